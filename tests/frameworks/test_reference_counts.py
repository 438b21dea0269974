"""The bundled frameworks, loaded, against their sources.

Counts come from each file's transcription notes (``reference_data/*.NOTES.md``); the exact texts
were checked by hand against the seed documents (``shared/seeds/``), which the tests do not read.
"""

from collections import Counter
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.frameworks.reference import bundled_frameworks
from tests.factories import auth_headers

CSC = "csc-leadership-competencies"
GRADE9 = "grade9-leadership-competencies"
UK = "uk-civil-service-leadership-management"
NCPM = "ncpm-cpm-competencies"
CANADA = "canada-leadership-development"


@pytest.fixture
async def staff(session: AsyncSession) -> dict[str, str]:
    """Staff see every version, whatever its status."""
    return await auth_headers(session, Role.staff)


async def _versions(client: AsyncClient, staff: dict[str, str], slug: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/frameworks/{slug}/versions", headers=staff)
    assert response.status_code == 200, f"{slug} is not loaded"
    versions: list[dict[str, Any]] = response.json()["items"]
    return versions


async def _version(
    client: AsyncClient, staff: dict[str, str], slug: str, version: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/frameworks/{slug}/versions/{version}", headers=staff)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    competencies = doc["competencies"]
    return {
        "competencies": len(competencies),
        "clusters": len(doc["clusters"]),
        "levels": len(doc["levels"]),
        "own levels": sum(len(c["levels"]) for c in competencies),
        "level descriptions": sum(len(c["level_descriptions"]) for c in competencies),
        "elements": sum(len(c["elements"]) for c in competencies),
        "indicators": sum(len(c["indicators"]) for c in competencies),
    }


def _competency(doc: dict[str, Any], code: str) -> dict[str, Any]:
    (competency,) = [c for c in doc["competencies"] if c["code"] == code]
    return competency


def _indicator(doc: dict[str, Any], text: str) -> tuple[str, dict[str, Any]]:
    """The one indicator with exactly ``text``, and its competency's code."""
    found = [
        (c["code"], i) for c in doc["competencies"] for i in c["indicators"] if i["text"] == text
    ]
    assert len(found) == 1, text
    return found[0]


# -- every bundled file ------------------------------------------------------------------------


def test_the_five_source_frameworks_are_bundled() -> None:
    assert {bundle.slug for bundle in bundled_frameworks()} == {CSC, GRADE9, UK, NCPM, CANADA}


async def test_every_bundled_version_is_loaded_exactly_as_written(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    for bundle in bundled_frameworks():
        versions = await _versions(client, staff, bundle.slug)
        assert [(v["version"], v["status"]) for v in versions] == [
            (v.version, v.status) for v in bundle.versions
        ]
        meta = bundle.model_dump(mode="json", exclude={"versions"})
        for version in bundle.versions:
            served = await _version(client, staff, bundle.slug, version.version)
            for key in ("status", "published_at", "retired_at", "updated_at"):
                served.pop(key)
            expected = meta | version.model_dump(mode="json", exclude={"status"})
            assert served == expected, (bundle.slug, version.version)


# -- CSC Leadership Competency Framework (seed 000) ---------------------------------------------

CSC_2015 = {
    # code: (elements, level descriptions, indicators, (basic, intermediate, advanced, superior))
    "thinking-strategically-and-creatively": (5, 4, 20, (5, 5, 5, 5)),
    "leading-change": (6, 4, 26, (6, 6, 7, 7)),
    "building-collaborative-inclusive-working-relationships": (4, 4, 16, (4, 4, 4, 4)),
    "managing-performance-and-coaching-for-results": (6, 4, 24, (6, 6, 6, 6)),
    "creating-and-nurturing-a-high-performing-organization": (5, 4, 20, (5, 5, 5, 5)),
}


async def test_csc_versions_2014_retired_and_2015_published(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    versions = await _versions(client, staff, CSC)
    assert [
        (v["version"], v["status"], v["competency_count"], v["indicator_count"]) for v in versions
    ] == [("2014", "retired", 7, 0), ("2015", "published", 5, 106)]
    assert "Resolution No. 1401375" in versions[0]["notes"]
    assert "Resolution No. 1500615" in versions[1]["notes"]
    assert "1501534" in versions[1]["notes"]
    current = await client.get(f"/v1/frameworks/{CSC}")
    assert current.json()["version"] == "2015"


async def test_csc_2014_names_the_seven_first_competencies_only(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _version(client, staff, CSC, "2014")
    assert _counts(doc) == {
        "competencies": 7,
        "clusters": 0,
        "levels": 0,
        "own levels": 0,
        "level descriptions": 0,
        "elements": 0,
        "indicators": 0,
    }
    assert [c["name"] for c in doc["competencies"]] == [
        "Partnering and Networking",
        "Managing Performance",
        "Coaching for Results",
        "Leading Change",
        "Thinking Strategically",
        "Building Commitment",
        "Developing People",
    ]
    assert {(c["definition"], c["definition_complete"]) for c in doc["competencies"]} == {
        (None, True)
    }


async def test_csc_2015_counts_match_the_transcription_notes(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _version(client, staff, CSC, "2015")
    assert _counts(doc) == {
        "competencies": 5,
        "clusters": 0,
        "levels": 4,
        "own levels": 0,
        "level descriptions": 20,
        "elements": 26,
        "indicators": 106,
    }
    assert [(lv["code"], lv["name"], lv["rank"]) for lv in doc["levels"]] == [
        ("basic", "Basic", 1),
        ("intermediate", "Intermediate", 2),
        ("advanced", "Advanced", 3),
        ("superior", "Superior", 4),
    ]
    assert [c["code"] for c in doc["competencies"]] == list(CSC_2015)
    for code, (elements, descriptions, indicators, per_level) in CSC_2015.items():
        competency = _competency(doc, code)
        levels = Counter(i["level"] for i in competency["indicators"])
        assert (
            len(competency["elements"]),
            len(competency["level_descriptions"]),
            len(competency["indicators"]),
            tuple(levels[lv] for lv in ("basic", "intermediate", "advanced", "superior")),
        ) == (elements, descriptions, indicators, per_level), code
        assert competency["definition_complete"] is True
        assert competency["definition"]
        assert {i["polarity"] for i in competency["indicators"]} == {"positive"}
        # Every CSC indicator belongs to an element.
        assert all(i["element"] for i in competency["indicators"])


async def test_csc_2015_marks_the_cut_intermediate_column_incomplete(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _version(client, staff, CSC, "2015")
    incomplete = [
        (c["code"], i["element"], i["level"])
        for c in doc["competencies"]
        for i in c["indicators"]
        if not i["complete"]
    ]
    building = "building-collaborative-inclusive-working-relationships"
    assert incomplete == [
        (
            building,
            "cultivates-a-robust-network-of-connections-and-working-relationships",
            "intermediate",
        ),
        (building, "negotiates-and-influences-persuasively", "intermediate"),
        (building, "promotes-value-of-transparency-and-open-communication", "intermediate"),
        (
            building,
            "addresses-gender-and-other-diversity-issues-discriminatory-and-exclusionary-behavior",
            "intermediate",
        ),
    ]
    descriptions = [
        (c["code"], d["level"], d["text"])
        for c in doc["competencies"]
        for d in c["level_descriptions"]
        if not d["complete"]
    ]
    assert descriptions == [
        (building, "intermediate", "Builds partnerships and networks or enhance work outcomes.")
    ]
    assert all(e["complete"] for c in doc["competencies"] for e in c["elements"])


@pytest.mark.parametrize(
    ("text", "competency", "element", "level", "complete"),
    [
        (
            "Articulates to others the vision, mission, values, objectives and purposes of the "
            "organization/ agency.",
            "thinking-strategically-and-creatively",
            "demonstrates-a-systems-perspective",
            "basic",
            True,
        ),
        (
            "Constructs strategies, plans and programs to anticipate and address changing "
            "priorities, emerging trends, challenges and opportunities.",
            "leading-change",
            "recognizes-the-need-for-change-and-prepares-the-organization-for-change",
            "advanced",
            True,
        ),
        (
            # Source wording kept, including the stray closing quote.
            "Explains the coaching process, particularly, the concept of \u201ccoaching is "
            "coachee-driven\u201d when conducting coaching sessions to employees\u201d as well as "
            "expectations with individuals or among team members; and prepares the agreed work "
            "plan or commitment with the individual or group.",
            "managing-performance-and-coaching-for-results",
            "nurtures-a-coaching-culture",
            "basic",
            True,
        ),
        (
            # Cut at the right edge of the page in the source: kept as it is, marked incomplete.
            "Demonstrates reliability and uses credibility with team members, pa stakeholders to "
            "negotiate outcome",
            "building-collaborative-inclusive-working-relationships",
            "negotiates-and-influences-persuasively",
            "intermediate",
            False,
        ),
    ],
)
async def test_csc_2015_indicator_texts_are_the_source_wording(
    client: AsyncClient,
    staff: dict[str, str],
    text: str,
    competency: str,
    element: str,
    level: str,
    complete: bool,
) -> None:
    doc = await _version(client, staff, CSC, "2015")
    code, indicator = _indicator(doc, text)
    assert (code, indicator["element"], indicator["level"], indicator["complete"]) == (
        competency,
        element,
        level,
        complete,
    )


# -- Grades 9 and above (seed 003) -------------------------------------------------------------

GRADE9_COMPETENCIES = {
    # code: (cluster, positive indicators per stage, negative indicators, features)
    "self-belief": ("personal-qualities", (3, 3, 3, 3), 2, 4),
    "self-awareness": ("personal-qualities", (2, 2, 2), 3, 2),
    "self-management": ("personal-qualities", (3, 2, 3), 2, 2),
    "drive-for-improvement-in-public-services": ("personal-qualities", (3, 3, 3), 1, 4),
    "personal-integrity": ("personal-qualities", (3, 3, 3), 2, 5),
    "seizing-the-future": ("setting-direction", (2, 3, 2, 3, 3), 3, 5),
    "intellectual-flexibility": ("setting-direction", (2, 3, 3), 3, 3),
    "broad-scanning": ("setting-direction", (2, 3, 3), 2, 3),
    "contextual-astuteness": ("setting-direction", (2, 3, 2, 2), 3, 3),
    "drive-for-results": ("setting-direction", (3, 2, 3, 3), 2, 3),
    "leading-change-through-people": ("delivering-the-service", (3, 2, 3, 3, 3, 3), 3, 7),
    "holding-to-account": ("delivering-the-service", (2, 3, 3), 3, 5),
    "empowering-others": ("delivering-the-service", (3, 3, 3), 2, 6),
    "effective-and-strategic-influencing": ("delivering-the-service", (3, 2, 3, 3), 2, 4),
    "working-effectively-with-others": ("delivering-the-service", (2, 3, 3), 2, 2),
}


async def test_grade9_has_one_published_version_with_stages_per_competency(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    versions = await _versions(client, staff, GRADE9)
    assert [
        (v["version"], v["status"], v["competency_count"], v["indicator_count"]) for v in versions
    ] == [("1", "published", 15, 181)]
    doc = await _version(client, staff, GRADE9, "1")
    assert _counts(doc) == {
        "competencies": 15,
        "clusters": 3,
        "levels": 0,
        "own levels": 54,
        "level descriptions": 0,
        "elements": 0,
        "indicators": 181,
    }
    assert [(c["code"], c["name"]) for c in doc["clusters"]] == [
        ("personal-qualities", "Personal Qualities"),
        ("setting-direction", "Setting Direction"),
        ("delivering-the-service", "Delivering the Service"),
    ]
    assert doc["title"] == "Competency Framework - Grades 9 and above - Leadership Family"
    assert (doc["publisher"], doc["jurisdiction"]) == (None, "GB")


async def test_grade9_counts_per_competency_match_the_transcription_notes(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _version(client, staff, GRADE9, "1")
    assert [c["code"] for c in doc["competencies"]] == list(GRADE9_COMPETENCIES)
    for code, (cluster, per_stage, negative, features) in GRADE9_COMPETENCIES.items():
        competency = _competency(doc, code)
        stages = [lv["code"] for lv in competency["levels"]]
        assert stages == [f"stage-{n}" for n in range(1, len(per_stage) + 1)], code
        assert [lv["rank"] for lv in competency["levels"]] == list(range(1, len(per_stage) + 1))
        positive = Counter(
            i["level"] for i in competency["indicators"] if i["polarity"] == "positive"
        )
        assert tuple(positive[s] for s in stages) == per_stage, code
        assert sum(positive.values()) == sum(per_stage), code
        negatives = [i for i in competency["indicators"] if i["polarity"] == "negative"]
        assert len(negatives) == negative, code
        assert all(i["level"] is None for i in negatives)
        assert len(competency["features"]) == features, code
        assert competency["cluster"] == cluster
        assert competency["definition"]
        assert competency["negative_indicators_title"]
    assert sum(len(c["features"]) for c in doc["competencies"]) == 58
    assert all(
        i["complete"] and i["element"] is None for c in doc["competencies"] for i in c["indicators"]
    )


async def test_grade9_stage_names_are_verbatim_typos_included(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _version(client, staff, GRADE9, "1")
    first_stage = {c["code"]: c["levels"][0]["name"] for c in doc["competencies"]}
    assert first_stage["self-belief"] == "Stage 1 - Acts with confidence"
    assert (
        first_stage["drive-for-improvement-in-public-services"]
        == "Stages 1 - Targets effort for service improvement"
    )
    assert first_stage["contextual-astuteness"] == "Stages 1 - Uses informal networks"
    names = {c["code"]: c["name"] for c in doc["competencies"]}
    assert names["self-belief"] == "Self Belief"
    assert names["contextual-astuteness"] == "Contextual Astuteness"
    assert names["working-effectively-with-others"] == "Working effectively with Others"


@pytest.mark.parametrize(
    ("text", "competency", "level", "polarity"),
    [
        (
            "Manages own anxieties and appears confident to others.",
            "self-belief",
            "stage-1",
            "positive",
        ),
        (
            "Coaches others, challenging and asking questions to help them work out the answers "
            "for themselves.",
            "empowering-others",
            "stage-3",
            "positive",
        ),
        (
            "Passes the buck when faced with leadership responsibility.",
            "leading-change-through-people",
            None,
            "negative",
        ),
        (
            # The last line of the source, without a full stop.
            "Does not share information with other stakeholders",
            "working-effectively-with-others",
            None,
            "negative",
        ),
    ],
)
async def test_grade9_indicator_texts_are_the_source_wording(
    client: AsyncClient,
    staff: dict[str, str],
    text: str,
    competency: str,
    level: str | None,
    polarity: str,
) -> None:
    doc = await _version(client, staff, GRADE9, "1")
    code, indicator = _indicator(doc, text)
    assert (code, indicator["level"], indicator["polarity"], indicator["complete"]) == (
        competency,
        level,
        polarity,
        True,
    )


# -- UK Civil Service Leadership & Management (seed 004) ----------------------------------------
# Seven core areas in three groups (the group names survive only as scattered letters, which spell
# "Partnerships" with an s), levels 1-7 written out for four areas, one indicator per level block.

UK_GROUPS = {
    "performance": [
        "strategy-systems-and-culture",
        "business-and-risk",
        "technology-and-data-driven-decision-making",
    ],
    "people": ["developing-self-and-others", "innovation-and-transformation"],
    "partnerships": ["communicating-purposefully", "working-in-teams"],
}
UK_LEVELLED = UK_GROUPS["performance"] + ["developing-self-and-others"]
NO_CONTENT = {
    "competencies": 0,
    "clusters": 0,
    "levels": 0,
    "own levels": 0,
    "level descriptions": 0,
    "elements": 0,
    "indicators": 0,
}


async def _only_version(
    client: AsyncClient, staff: dict[str, str], slug: str, label: str
) -> dict[str, Any]:
    versions = await _versions(client, staff, slug)
    assert [(v["version"], v["status"]) for v in versions] == [(label, "published")]
    return await _version(client, staff, slug, label)


async def test_uk_has_seven_areas_in_three_groups_on_seven_levels(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, UK, "1")
    assert _counts(doc) == {
        "competencies": 7,
        "clusters": 3,
        "levels": 7,
        "own levels": 0,
        "level descriptions": 0,
        "elements": 0,
        "indicators": 28,
    }
    assert [(lv["code"], lv["name"], lv["rank"]) for lv in doc["levels"]] == [
        (f"level-{n}", f"Level {n}", n) for n in range(1, 8)
    ]
    assert [(c["code"], c["name"]) for c in doc["clusters"]] == [
        ("performance", "Performance"),
        ("people", "People"),
        ("partnerships", "Partnerships"),
    ]
    assert {c["code"]: c["cluster"] for c in doc["competencies"]} == {
        code: group for group, codes in UK_GROUPS.items() for code in codes
    }
    assert doc["jurisdiction"] == "GB"
    assert all(c["definition"] and c["definition_complete"] for c in doc["competencies"])
    indicators = [i for c in doc["competencies"] for i in c["indicators"]]
    assert {(i["polarity"], i["element"], i["complete"]) for i in indicators} == {
        ("positive", None, True)
    }


async def test_uk_attributes_are_the_ones_in_parentheses(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, UK, "1")
    assert {c["code"]: c["attribute"] for c in doc["competencies"]} == {
        # Six labels for seven areas: Purposeful sits across the first two rows (NOTES).
        "strategy-systems-and-culture": "Purposeful",
        "business-and-risk": "Purposeful",
        "technology-and-data-driven-decision-making": "Considered",
        "developing-self-and-others": "Self Developing & Enabling",
        "innovation-and-transformation": "Transformational",
        "communicating-purposefully": "Connected",
        "working-in-teams": "Inclusive",
    }


async def test_uk_has_one_indicator_per_level_for_four_areas_only(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, UK, "1")
    for competency in doc["competencies"]:
        levels = [i["level"] for i in competency["indicators"]]
        if competency["code"] in UK_LEVELLED:
            assert levels == [f"level-{n}" for n in range(1, 8)], competency["code"]
        else:
            assert levels == [], competency["code"]


UK_LEVEL_TEXTS = [
    (
        # The "LEVEL 1" marker sits mid-sentence in the source ("Asks the right questions
        # LEVEL 1 and connects ..."); the block is whole without it.
        "strategy-systems-and-culture",
        "level-1",
        "Understands team objectives and delivers against them in a way that demonstrates "
        "understanding of relevant policies and procedures. Asks the right questions and connects "
        "with the right people to perform their role effectively. Seeks out feedback from peers "
        "and managers to further understand their responsibilities. Aware of some of the external "
        "factors that can impact delivery of their work and their own role in sustaining an "
        "inclusive, growth culture and how this links to team performance.",
    ),
    (
        "business-and-risk",
        "level-7",
        "Evaluates the benefits and risks of very complex and strategically important initiatives "
        "on an international, national and local level. Makes informed recommendations to "
        "ministers and senior stakeholders on the operations of government. Scans external "
        "environment to anticipate and mitigate the risk of potential challenges from economic, "
        "environmental, social and political dynamics.",
    ),
    (
        "technology-and-data-driven-decision-making",
        "level-4",
        "Maintains a network of experts. Recognises patterns and connections between diverse "
        "sets of information, including from external sources, and can synthesise these into a "
        "best course of action. Recognises when new technology can improve processes or data "
        "flows, and looks for opportunities to integrate. Synthesises different sources of "
        "information to understand complex factors. Balances inaccurate or incomplete "
        "information in unpredictable contexts with what is known and controllable to decide on "
        "a course of action. Uses robust evidence to support decision making on highly complex "
        "projects and issues that have significant implications.",
    ),
]


@pytest.mark.parametrize(("competency", "level", "text"), UK_LEVEL_TEXTS)
async def test_uk_indicator_texts_are_the_source_wording(
    client: AsyncClient, staff: dict[str, str], competency: str, level: str, text: str
) -> None:
    doc = await _only_version(client, staff, UK, "1")
    code, indicator = _indicator(doc, text)
    assert (code, indicator["level"]) == (competency, level)


async def test_uk_keeps_the_source_repeating_a_level_block(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, UK, "1")
    developing = _competency(doc, "developing-self-and-others")
    by_level = {i["level"]: i["text"] for i in developing["indicators"]}
    assert by_level["level-2"] == by_level["level-3"]
    assert by_level["level-2"].startswith(
        "Uses their internal peer network to test ideas, challenges and problems"
    )
    assert by_level["level-2"].endswith(
        "Understands the fundamentals of performance management systems and tools."
    )


# -- National CPM Consortium (seed 002) ----------------------------------------------------------

NCPM_COMPETENCIES = [
    "Personal and Organizational Integrity",
    "Managing Work",
    "Leading People",
    "Developing Self",
    "Systemic Integration",
    "Public Service Focus",
    "Change Leadership",
]


async def test_ncpm_has_seven_competencies_with_definitions_and_no_levels(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, NCPM, "2010")
    assert _counts(doc) == NO_CONTENT | {"competencies": 7}
    assert [c["name"] for c in doc["competencies"]] == NCPM_COMPETENCIES
    assert all(c["cluster"] is None and c["features"] == [] for c in doc["competencies"])
    definitions = {c["code"]: c["definition"] for c in doc["competencies"]}
    assert definitions["personal-and-organizational-integrity"] == (
        "Increasing awareness, building skills and modeling behaviors related to identifying "
        "potential ethical problems and conflicts of interest; appropriate workplace behavior; "
        "and legal and policy compliance."
    )
    assert definitions["developing-self"] == (
        "Commitment to continuous learning, self-awareness and individual performance planning "
        "through feedback, study and analysis."
    )
    # Source wording kept, the missing word included ("initiates supports change").
    assert definitions["change-leadership"] == (
        "Acts as change agent; initiates supports change within the organization by implementing "
        "strategies to help others adapt to changes in the work environment, including personal "
        "reactions to change with emphasis on fostering creativity, innovation and being "
        "proactive."
    )
    assert all(c["definition_complete"] for c in doc["competencies"])


# -- Canada: leadership development framework (seed 001) ------------------------------------------


async def test_canada_is_held_as_metadata_without_competencies(
    client: AsyncClient, staff: dict[str, str]
) -> None:
    doc = await _only_version(client, staff, CANADA, "2009")
    assert _counts(doc) == NO_CONTENT
    assert doc["jurisdiction"] == "CA"
    assert "Key Leadership Competency profile" in doc["notes"]
    # An empty framework is still a published, readable version with no indicators.
    current = await client.get(f"/v1/frameworks/{CANADA}")
    assert current.status_code == 200
    assert current.json()["competencies"] == []
    indicators = await client.get(f"/v1/frameworks/{CANADA}/indicators")
    assert indicators.json() == {"items": [], "next_cursor": None}
