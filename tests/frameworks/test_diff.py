from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.frameworks.diff import diff_versions
from app.frameworks.reference import bundled_documents
from app.frameworks.schemas import FrameworkDocument
from tests.factories import auth_headers
from tests.frameworks.documents import SLUG, framework_document

CSC = "csc-leadership-competencies"
CSC_2015_ONLY = [
    "thinking-strategically-and-creatively",
    "building-collaborative-inclusive-working-relationships",
    "managing-performance-and-coaching-for-results",
    "creating-and-nurturing-a-high-performing-organization",
]
CSC_2014_ONLY = [
    "partnering-and-networking",
    "managing-performance",
    "coaching-for-results",
    "thinking-strategically",
    "building-commitment",
    "developing-people",
]


def _csc(version: str) -> FrameworkDocument:
    (doc,) = [d for d, _ in bundled_documents() if d.slug == CSC and d.version == version]
    return doc


def _doc(**changes: Any) -> FrameworkDocument:
    return FrameworkDocument.model_validate(framework_document(**changes))


def _edited(edit: Any) -> FrameworkDocument:
    raw = framework_document(version="2")
    edit(raw)
    return FrameworkDocument.model_validate(raw)


# -- the rules, without a database -------------------------------------------------------------


def test_csc_2014_to_2015_replaces_seven_competencies_by_five() -> None:
    diff = diff_versions(_csc("2014"), _csc("2015"))
    assert (diff.framework, diff.from_version, diff.to_version) == (CSC, "2014", "2015")
    assert [c.code for c in diff.competencies.added] == CSC_2015_ONLY
    assert [c.code for c in diff.competencies.removed] == CSC_2014_ONLY
    # Leading Change keeps its code and name but gains a definition, descriptions and elements.
    (changed,) = diff.competencies.changed
    assert (changed.code, changed.name) == ("leading-change", "Leading Change")
    assert [c.field for c in changed.changes] == ["definition", "level_descriptions", "elements"]
    assert changed.changes[0].before is None
    assert isinstance(changed.changes[0].after, str)
    assert changed.changes[0].after.startswith("The ability to generate")
    assert [lv.code for lv in diff.levels.added] == [
        "basic",
        "intermediate",
        "advanced",
        "superior",
    ]
    assert diff.levels.removed == diff.levels.changed == []
    assert diff.clusters == diff.clusters.model_validate(
        {"added": [], "removed": [], "changed": []}
    )
    assert len(diff.indicators.added) == 106
    assert diff.indicators.removed == diff.indicators.changed == []


def test_the_reverse_diff_swaps_added_and_removed() -> None:
    forward = diff_versions(_csc("2014"), _csc("2015"))
    backward = diff_versions(_csc("2015"), _csc("2014"))
    assert [c.code for c in backward.competencies.added] == CSC_2014_ONLY
    assert [c.code for c in backward.competencies.removed] == CSC_2015_ONLY
    assert len(backward.indicators.removed) == 106
    (changed,) = backward.competencies.changed
    assert [(c.before, c.after) for c in changed.changes] == [
        (c.after, c.before) for c in forward.competencies.changed[0].changes
    ]


def test_a_version_against_itself_is_empty() -> None:
    diff = diff_versions(_csc("2015"), _csc("2015"))
    for part in (diff.levels, diff.clusters, diff.competencies):
        assert part.added == part.removed == part.changed == []
    assert diff.indicators.added == diff.indicators.removed == diff.indicators.changed == []


def test_new_text_at_the_same_place_is_a_changed_indicator() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["competencies"][0]["indicators"][1]["text"] = "Mentors team leaders."

    diff = diff_versions(_doc(), _edited(edit))
    assert diff.indicators.added == diff.indicators.removed == []
    (change,) = diff.indicators.changed
    assert (change.competency, change.element, change.level, change.polarity) == (
        "developing-others",
        "gives-feedback",
        "advanced",
        "positive",
    )
    assert change.before.text == "Mentors team leaders in giving feedback."
    assert change.after.text == "Mentors team leaders."


def test_a_completeness_flag_alone_is_a_change() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["competencies"][1]["indicators"][0]["complete"] = False

    (change,) = diff_versions(_doc(), _edited(edit)).indicators.changed
    assert change.before.text == change.after.text == "Plans own work each week."
    assert (change.before.complete, change.after.complete) == (True, False)


def test_an_indicator_moved_to_another_level_is_removed_and_added() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["competencies"][1]["indicators"][0]["level"] = "advanced"

    diff = diff_versions(_doc(), _edited(edit))
    assert diff.indicators.changed == []
    (removed,) = diff.indicators.removed
    (added,) = diff.indicators.added
    assert removed.text == added.text == "Plans own work each week."
    assert (removed.level, added.level) == ("basic", "advanced")


def test_unchanged_texts_anchor_the_pairing_within_a_place() -> None:
    def edit(raw: dict[str, Any]) -> None:
        indicators = raw["competencies"][1]["indicators"]
        # Basic gets two new indicators, before and after the one that stays.
        indicators.insert(0, {"text": "Keeps a to-do list.", "level": "basic"})
        indicators.insert(2, {"text": "Reviews the plan monthly.", "level": "basic"})
        indicators[3]["text"] = "Plans the unit's work for the next year."

    diff = diff_versions(_doc(), _edited(edit))
    assert [i.text for i in diff.indicators.added] == [
        "Keeps a to-do list.",
        "Reviews the plan monthly.",
    ]
    assert diff.indicators.removed == []
    (change,) = diff.indicators.changed
    assert change.after.text == "Plans the unit's work for the next year."


def test_removed_places_and_negative_indicators() -> None:
    def edit(raw: dict[str, Any]) -> None:
        developing = raw["competencies"][0]
        developing["indicators"] = developing["indicators"][:2]
        developing["indicators"].append({"text": "Withholds feedback.", "polarity": "negative"})
        developing["indicators"].append({"text": "Hoards information.", "polarity": "negative"})

    diff = diff_versions(_doc(), _edited(edit))
    (change,) = diff.indicators.changed
    assert change.polarity == "negative"
    assert (change.before.text, change.after.text) == (
        "Avoids difficult conversations.",
        "Withholds feedback.",
    )
    assert [(i.text, i.polarity, i.level) for i in diff.indicators.added] == [
        ("Hoards information.", "negative", None)
    ]


def test_competency_cluster_and_level_changes() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["levels"][1]["name"] = "Expert"
        raw["levels"].append({"code": "superior", "name": "Superior", "rank": 3})
        raw["clusters"] = [{"code": "people", "name": "People", "description": "Everyone."}]
        raw["competencies"][0]["features"] = ["Listening."]
        raw["competencies"][1]["cluster"] = "people"
        raw["competencies"][1]["name"] = "Planning the Work"
        del raw["competencies"][0]["indicators"]

    diff = diff_versions(_doc(), _edited(edit))
    assert [(c.code, c.changes[0].field) for c in diff.levels.changed] == [("advanced", "name")]
    assert [c.code for c in diff.levels.added] == ["superior"]
    assert diff.clusters.changed[0].changes[0].model_dump() == {
        "field": "description",
        "before": None,
        "after": "Everyone.",
    }
    changes = {c.code: [f.field for f in c.changes] for c in diff.competencies.changed}
    assert changes == {"developing-others": ["features"], "planning-work": ["name", "cluster"]}
    assert diff.competencies.changed[1].name == "Planning the Work"
    assert len(diff.indicators.removed) == 3


# -- the route ---------------------------------------------------------------------------------


async def test_diff_of_the_csc_versions_is_public(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}/versions/2014/diff/2015")
    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body["competencies"]["added"]] == CSC_2015_ONLY
    assert [c["code"] for c in body["competencies"]["removed"]] == CSC_2014_ONLY
    assert [c["code"] for c in body["competencies"]["changed"]] == ["leading-change"]
    assert len(body["indicators"]["added"]) == 106
    incomplete = [i for i in body["indicators"]["added"] if not i["complete"]]
    assert len(incomplete) == 4
    assert {i["competency"] for i in incomplete} == {
        "building-collaborative-inclusive-working-relationships"
    }
    assert body == diff_versions(_csc("2014"), _csc("2015")).model_dump(mode="json")


async def test_diff_of_unknown_versions_is_404(client: AsyncClient) -> None:
    assert (await client.get(f"/v1/frameworks/{CSC}/versions/2014/diff/2099")).status_code == 404
    assert (await client.get(f"/v1/frameworks/{CSC}/versions/2099/diff/2015")).status_code == 404
    assert (await client.get("/v1/frameworks/nothing/versions/1/diff/2")).status_code == 404


def _as_import(version_out: dict[str, Any], version: str) -> dict[str, Any]:
    for key in ("status", "published_at", "retired_at", "updated_at"):
        del version_out[key]
    return version_out | {"version": version}


async def test_diff_of_a_draft_made_from_csc_2015_and_edited(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    current = (await client.get(f"/v1/frameworks/{CSC}/versions/2015")).json()
    draft = _as_import(current, "2016")
    created = await client.post("/v1/frameworks", json=draft, headers=staff)
    assert created.status_code == 201
    unchanged = await client.get(f"/v1/frameworks/{CSC}/versions/2015/diff/2016", headers=staff)
    assert unchanged.status_code == 200
    assert unchanged.json()["competencies"] == {"added": [], "removed": [], "changed": []}
    assert unchanged.json()["indicators"] == {"added": [], "removed": [], "changed": []}

    # Edit the draft: complete a cut-off cell, drop a competency, add one, reword a definition.
    building = draft["competencies"][2]
    cut = building["indicators"][1]
    assert cut["complete"] is False
    cut["text"] = "Sets up regular meetings or consultations with the team."
    cut["complete"] = True
    draft["competencies"] = [c for c in draft["competencies"] if c["code"] != "leading-change"]
    draft["competencies"].append(
        {
            "code": "digital-leadership",
            "name": "Digital Leadership",
            "indicators": [{"text": "Uses data to decide.", "level": "basic"}],
        }
    )
    draft["competencies"][0]["definition"] = "A reworded definition."
    put = await client.put(f"/v1/frameworks/{CSC}/versions/2016", json=draft, headers=staff)
    assert put.status_code == 200

    response = await client.get(f"/v1/frameworks/{CSC}/versions/2015/diff/2016", headers=staff)
    assert response.status_code == 200
    body = response.json()
    assert body["competencies"]["added"] == [
        {"code": "digital-leadership", "name": "Digital Leadership"}
    ]
    assert body["competencies"]["removed"] == [{"code": "leading-change", "name": "Leading Change"}]
    assert [
        (c["code"], [f["field"] for f in c["changes"]]) for c in body["competencies"]["changed"]
    ] == [("thinking-strategically-and-creatively", ["definition"])]
    assert body["indicators"]["changed"] == [
        {
            "competency": "building-collaborative-inclusive-working-relationships",
            "element": "cultivates-a-robust-network-of-connections-and-working-relationships",
            "level": "intermediate",
            "polarity": "positive",
            "before": {
                "text": "Sets up regular meetings or consu with the team, partners or other s to "
                "gather and respond to feedback working, what needs are unmet, a resolve specific "
                "problems, and to n areas of common interest to plan out joint initiatives.",
                "complete": False,
            },
            "after": {
                "text": "Sets up regular meetings or consultations with the team.",
                "complete": True,
            },
        }
    ]
    assert [i["text"] for i in body["indicators"]["added"]] == ["Uses data to decide."]
    assert len(body["indicators"]["removed"]) == 26
    assert {i["competency"] for i in body["indicators"]["removed"]} == {"leading-change"}

    # Drafts are compared by admin and staff only.
    reader = await auth_headers(session, Role.reader)
    for headers in (None, reader):
        hidden = await client.get(f"/v1/frameworks/{CSC}/versions/2015/diff/2016", headers=headers)
        assert hidden.status_code == 404
        hidden = await client.get(f"/v1/frameworks/{CSC}/versions/2016/diff/2015", headers=headers)
        assert hidden.status_code == 404


async def test_diff_of_two_drafts_of_a_new_framework(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    await client.post("/v1/frameworks", json=framework_document(), headers=admin)
    second = framework_document(version="2")
    second["competencies"][1]["indicators"][1]["text"] = "Plans the unit's work for two years."
    await client.post("/v1/frameworks", json=second, headers=admin)
    response = await client.get(f"/v1/frameworks/{SLUG}/versions/1/diff/2", headers=admin)
    assert response.status_code == 200
    (change,) = response.json()["indicators"]["changed"]
    assert change["after"]["text"] == "Plans the unit's work for two years."
