import re
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers
from tests.frameworks.documents import SLUG, framework_document

CSC = "csc-leadership-competencies"
GRADE9 = "grade9-leadership-competencies"


async def _all_pages(
    client: AsyncClient, url: str, params: dict[str, Any], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every item of a paged list, following `next_cursor`."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await client.get(
            url, params=params | ({"cursor": cursor} if cursor else {}), headers=headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def _draft(client: AsyncClient, session: AsyncSession, **changes: Any) -> dict[str, str]:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(
        "/v1/frameworks", json=framework_document(**changes), headers=staff
    )
    assert response.status_code == 201, response.text
    return staff


# -- GET /v1/frameworks ------------------------------------------------------------------------


async def test_framework_list_gives_each_framework_with_its_current_version(
    client: AsyncClient,
) -> None:
    response = await client.get("/v1/frameworks")
    assert response.status_code == 200
    by_slug = {f["slug"]: f for f in response.json()["items"]}
    assert by_slug[CSC] == {
        "slug": CSC,
        "title": "CSC Leadership Competency Framework",
        "publisher": "Civil Service Commission (Philippines)",
        "jurisdiction": "PH",
        "description": "Leadership competencies are measurable patterns of leadership skills "
        "and behaviors that contribute to superior performance.",
        "status": "published",
        "current_version": "2015",
        "versions": ["2014", "2015"],
    }
    assert by_slug[GRADE9]["current_version"] == "1"
    assert by_slug[GRADE9]["publisher"] is None
    slugs = [f["slug"] for f in response.json()["items"]]
    assert slugs == sorted(slugs)


async def test_framework_list_filters_by_publisher_jurisdiction_and_status(
    client: AsyncClient, session: AsyncSession
) -> None:
    by_publisher = await client.get(
        "/v1/frameworks", params={"publisher": "Civil Service Commission (Philippines)"}
    )
    assert [f["slug"] for f in by_publisher.json()["items"]] == [CSC]

    by_jurisdiction = (await client.get("/v1/frameworks", params={"jurisdiction": "GB"})).json()
    assert GRADE9 in [f["slug"] for f in by_jurisdiction["items"]]
    assert {f["jurisdiction"] for f in by_jurisdiction["items"]} == {"GB"}

    # CSC has a retired version, but a published one too: its status is "published".
    retired = (await client.get("/v1/frameworks", params={"status": "retired"})).json()
    assert CSC not in [f["slug"] for f in retired["items"]]
    published = (await client.get("/v1/frameworks", params={"status": "published"})).json()
    assert {CSC, GRADE9} <= {f["slug"] for f in published["items"]}

    staff = await _draft(client, session)
    drafts = await client.get("/v1/frameworks", params={"status": "draft"}, headers=staff)
    assert [(f["slug"], f["status"], f["current_version"]) for f in drafts.json()["items"]] == [
        (SLUG, "draft", None)
    ]
    hidden = await client.get("/v1/frameworks", params={"status": "draft"})
    assert hidden.json()["items"] == []


async def test_framework_list_rejects_bad_filters(client: AsyncClient) -> None:
    response = await client.get(
        "/v1/frameworks", params={"jurisdiction": "Philippines", "status": "gone"}
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"query.jurisdiction", "query.status"}


async def test_framework_list_pages_without_duplicates_or_misses(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    for n in range(3):
        doc = framework_document(slug=f"paging-test-{n}")
        assert (await client.post("/v1/frameworks", json=doc, headers=staff)).status_code == 201
    whole = (await client.get("/v1/frameworks", params={"limit": 200}, headers=staff)).json()
    assert whole["next_cursor"] is None
    paged = await _all_pages(client, "/v1/frameworks", {"limit": 1}, headers=staff)
    assert [f["slug"] for f in paged] == [f["slug"] for f in whole["items"]]
    assert len(paged) >= 5


# -- one framework: current version, versions, competencies --------------------------------------


async def test_current_version_is_cacheable_and_revalidates_to_304(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}")
    assert response.status_code == 200
    assert response.json()["version"] == "2015"
    assert response.json()["status"] == "published"
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Authorization"

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = await client.get(f"/v1/frameworks/{CSC}", headers={"If-None-Match": header})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag

    changed = await client.get(f"/v1/frameworks/{CSC}", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200
    # The same version has the same representation and tag, however it is asked for.
    by_label = await client.get(f"/v1/frameworks/{CSC}/versions/2015")
    assert by_label.headers["etag"] == etag
    assert by_label.content == response.content


async def test_unknown_framework_is_404_problem(client: AsyncClient) -> None:
    response = await client.get("/v1/frameworks/no-such-framework")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:cpro:problem:not-found"
    assert (await client.get("/v1/frameworks/no-such-framework/versions")).status_code == 404
    assert (await client.get(f"/v1/frameworks/{CSC}/versions/1999")).status_code == 404


async def test_versions_are_listed_oldest_first_with_their_sizes(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}/versions")
    assert response.status_code == 200
    versions = response.json()
    # The list envelope, like every other list; all of a framework's versions in one page.
    assert versions["next_cursor"] is None
    assert [
        (v["version"], v["status"], v["competency_count"], v["indicator_count"])
        for v in versions["items"]
    ] == [("2014", "retired", 7, 0), ("2015", "published", 5, 106)]
    assert "1401375" in versions["items"][0]["notes"]
    assert versions["items"][0]["retired_at"] is not None
    assert versions["items"][1]["retired_at"] is None


async def test_a_retired_version_is_served_as_immutable(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}/versions/2014")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"
    body = response.json()
    assert body["status"] == "retired"
    assert [c["name"] for c in body["competencies"]] == [
        "Partnering and Networking",
        "Managing Performance",
        "Coaching for Results",
        "Leading Change",
        "Thinking Strategically",
        "Building Commitment",
        "Developing People",
    ]
    assert body["levels"] == []
    etag = response.headers["etag"]
    again = await client.get(f"/v1/frameworks/{CSC}/versions/2014", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_a_competency_of_the_current_or_a_given_version(client: AsyncClient) -> None:
    current = await client.get(f"/v1/frameworks/{CSC}/competencies/leading-change")
    assert current.status_code == 200
    competency = current.json()
    assert competency["name"] == "Leading Change"
    assert len(competency["elements"]) == 6
    assert len(competency["indicators"]) == 26
    assert [d["level"] for d in competency["level_descriptions"]] == [
        "basic",
        "intermediate",
        "advanced",
        "superior",
    ]

    old = await client.get(
        f"/v1/frameworks/{CSC}/competencies/leading-change", params={"version": "2014"}
    )
    assert old.status_code == 200
    assert (old.json()["elements"], old.json()["indicators"], old.json()["definition"]) == (
        [],
        [],
        None,
    )

    missing = await client.get(f"/v1/frameworks/{CSC}/competencies/developing-people")
    assert missing.status_code == 404
    in_2014 = await client.get(
        f"/v1/frameworks/{CSC}/competencies/developing-people", params={"version": "2014"}
    )
    assert in_2014.status_code == 200


async def test_a_competency_with_its_own_stages(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{GRADE9}/competencies/self-belief")
    assert response.status_code == 200
    body = response.json()
    assert [lv["name"] for lv in body["levels"]] == [
        "Stage 1 - Acts with confidence",
        "Stage 2 - Is confident in own ability",
        "Stage 3 - Takes on challenges",
        "Stage 4 - Relishes challenge",
    ]
    assert body["negative_indicators_title"] == "Doubts own capability or is arrogant"


# -- indicators --------------------------------------------------------------------------------


async def test_framework_indicators_are_flat_and_in_source_order(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}/indicators", params={"limit": 200})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 106
    assert response.json()["next_cursor"] is None
    first = items[0]
    assert first == {
        "id": first["id"],
        "framework": CSC,
        "version": "2015",
        "competency": {
            "code": "thinking-strategically-and-creatively",
            "name": "Thinking Strategically and Creatively",
        },
        "element": {
            "code": "demonstrates-a-systems-perspective",
            "name": "Demonstrates a systems perspective",
        },
        "level": {"code": "basic", "name": "Basic", "rank": 1},
        "polarity": "positive",
        "text": "Articulates to others the vision, mission, values, objectives and purposes of "
        "the organization/ agency.",
        "complete": True,
        "rank": None,
    }
    ids = [i["id"] for i in items]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"competency": "leading-change"}, 26),
        ({"competency": "leading-change", "level": "advanced"}, 7),
        ({"level": "superior"}, 27),
        ({"element": "advances-and-sustains-change"}, 6),
        ({"element": "advances-and-sustains-change", "level": "superior"}, 2),
        ({"polarity": "positive"}, 106),
        ({"polarity": "negative"}, 0),
        ({"competency": "no-such-competency"}, 0),
    ],
)
async def test_framework_indicator_filters(
    client: AsyncClient, params: dict[str, str], count: int
) -> None:
    items = await _all_pages(client, f"/v1/frameworks/{CSC}/indicators", params)
    assert len(items) == count
    for item in items:
        if "competency" in params:
            assert item["competency"]["code"] == params["competency"]
        if "level" in params:
            assert item["level"]["code"] == params["level"]
        if "element" in params:
            assert item["element"]["code"] == params["element"]


async def test_stage_and_polarity_filters_on_the_grade9_framework(client: AsyncClient) -> None:
    negative = await _all_pages(
        client, f"/v1/frameworks/{GRADE9}/indicators", {"polarity": "negative"}
    )
    assert len(negative) == 35
    assert all(i["level"] is None for i in negative)
    stage_6 = await _all_pages(client, f"/v1/frameworks/{GRADE9}/indicators", {"level": "stage-6"})
    assert len(stage_6) == 3
    assert {i["competency"]["code"] for i in stage_6} == {"leading-change-through-people"}
    assert stage_6[0]["level"]["name"] == "Stage 6 - Makes change inclusive and effective"


async def test_indicators_of_an_old_version(client: AsyncClient) -> None:
    response = await client.get(f"/v1/frameworks/{CSC}/indicators", params={"version": "2014"})
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_cursor_paging_of_indicators_has_no_duplicates_or_misses(
    client: AsyncClient,
) -> None:
    whole = (await client.get(f"/v1/frameworks/{CSC}/indicators", params={"limit": 200})).json()
    for limit in (1, 7, 53, 106):
        paged = await _all_pages(client, f"/v1/frameworks/{CSC}/indicators", {"limit": limit})
        assert [i["id"] for i in paged] == [i["id"] for i in whole["items"]]


async def test_ranked_search_pages_without_duplicates_or_misses(client: AsyncClient) -> None:
    params = {"q": "performance"}
    whole = (
        await client.get(f"/v1/frameworks/{CSC}/indicators", params=params | {"limit": 200})
    ).json()["items"]
    assert len(whole) > 10
    paged = await _all_pages(client, f"/v1/frameworks/{CSC}/indicators", params | {"limit": 3})
    assert [i["id"] for i in paged] == [i["id"] for i in whole]
    ranks = [i["rank"] for i in whole]
    assert ranks == sorted(ranks, reverse=True)
    assert all(r > 0 for r in ranks)


async def test_search_stems_words_across_frameworks(client: AsyncClient) -> None:
    found = await _all_pages(client, "/v1/indicators", {"q": "coach", "limit": 10})
    texts = [i["text"] for i in found]
    # "coach" finds "Coaches" (Grades 9+) and "coaching" (CSC): English stemming.
    assert (
        "Coaches others, challenging and asking questions to help them work out the answers for themselves."
        in texts
    )
    assert any("coaching" in t for t in texts)
    assert {i["framework"] for i in found} >= {CSC, GRADE9}
    assert all(re.search(r"\bcoach", t, re.IGNORECASE) for t in texts)
    ranks = [i["rank"] for i in found]
    assert ranks == sorted(ranks, reverse=True)

    coaching = await _all_pages(client, "/v1/indicators", {"q": "coaching"})
    assert {i["id"] for i in coaching} == {i["id"] for i in found}


async def test_search_only_covers_current_versions_and_can_be_narrowed(
    client: AsyncClient,
) -> None:
    everything = await _all_pages(client, "/v1/indicators", {"limit": 200})
    assert {(i["framework"], i["version"]) for i in everything} >= {(CSC, "2015"), (GRADE9, "1")}
    assert (CSC, "2014") not in {(i["framework"], i["version"]) for i in everything}
    only_csc = await _all_pages(client, "/v1/indicators", {"framework": CSC, "q": "vision"})
    assert only_csc
    assert {i["framework"] for i in only_csc} == {CSC}
    negative = await _all_pages(
        client, "/v1/indicators", {"framework": GRADE9, "polarity": "negative"}
    )
    assert len(negative) == 35


async def test_search_phrases_and_exclusions(client: AsyncClient) -> None:
    phrase = await _all_pages(
        client, f"/v1/frameworks/{CSC}/indicators", {"q": '"coaching culture"'}
    )
    assert phrase
    assert all("coaching culture" in i["text"].lower() for i in phrase)
    without = await _all_pages(
        client, f"/v1/frameworks/{CSC}/indicators", {"q": "coaching -culture"}
    )
    assert without
    assert all("culture" not in i["text"].lower() for i in without)


async def test_nonsense_search_and_forged_cursor(client: AsyncClient) -> None:
    nothing = await client.get("/v1/indicators", params={"q": "xylophonist"})
    assert nothing.json() == {"items": [], "next_cursor": None}
    forged = await client.get("/v1/indicators", params={"q": "coach", "cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["field"] == "query.cursor"


# -- drafts are for admin and staff ------------------------------------------------------------


async def test_drafts_are_invisible_to_anonymous_and_reader_callers(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await _draft(client, session)
    reader = await auth_headers(session, Role.reader)
    for headers in (None, reader):
        listed = (await client.get("/v1/frameworks", headers=headers)).json()
        assert SLUG not in [f["slug"] for f in listed["items"]]
        for url in (
            f"/v1/frameworks/{SLUG}",
            f"/v1/frameworks/{SLUG}/versions",
            f"/v1/frameworks/{SLUG}/versions/1",
            f"/v1/frameworks/{SLUG}/competencies/planning-work?version=1",
            f"/v1/frameworks/{SLUG}/indicators?version=1",
        ):
            response = await client.get(url, headers=headers)
            assert response.status_code == 404, (url, headers)
        search = await _all_pages(client, "/v1/indicators", {"q": "feedback"}, headers=headers)
        assert SLUG not in {i["framework"] for i in search}

    listed = (await client.get("/v1/frameworks", headers=staff)).json()
    assert SLUG in [f["slug"] for f in listed["items"]]
    version = await client.get(f"/v1/frameworks/{SLUG}/versions/1", headers=staff)
    assert version.status_code == 200
    assert version.headers["cache-control"] == "private, no-cache"
    versions = await client.get(f"/v1/frameworks/{SLUG}/versions", headers=staff)
    assert [v["status"] for v in versions.json()["items"]] == ["draft"]
    indicators = await client.get(
        f"/v1/frameworks/{SLUG}/indicators", params={"version": "1"}, headers=staff
    )
    assert len(indicators.json()["items"]) == 5
    competency = await client.get(
        f"/v1/frameworks/{SLUG}/competencies/planning-work",
        params={"version": "1"},
        headers=staff,
    )
    assert competency.status_code == 200
    # Not even staff get a draft as the "current" version.
    assert (await client.get(f"/v1/frameworks/{SLUG}", headers=staff)).status_code == 404


async def test_a_draft_of_a_published_framework_is_hidden_from_its_version_list(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    csc = (await client.get(f"/v1/frameworks/{CSC}/versions/2015")).json()
    for key in ("status", "published_at", "retired_at", "updated_at"):
        del csc[key]
    csc["version"] = "2016-draft"
    assert (await client.post("/v1/frameworks", json=csc, headers=staff)).status_code == 201

    public = (await client.get(f"/v1/frameworks/{CSC}/versions")).json()
    assert [v["version"] for v in public["items"]] == ["2014", "2015"]
    listed = (await client.get("/v1/frameworks", params={"publisher": csc["publisher"]})).json()
    assert listed["items"][0]["versions"] == ["2014", "2015"]
    assert (await client.get(f"/v1/frameworks/{CSC}/versions/2016-draft")).status_code == 404
    assert (await client.get(f"/v1/frameworks/{CSC}")).json()["version"] == "2015"

    seen_by_staff = (await client.get(f"/v1/frameworks/{CSC}/versions", headers=staff)).json()
    assert [v["version"] for v in seen_by_staff["items"]] == ["2014", "2015", "2016-draft"]
    staff_list = (
        await client.get("/v1/frameworks", params={"publisher": csc["publisher"]}, headers=staff)
    ).json()
    assert staff_list["items"][0]["status"] == "published"
    assert staff_list["items"][0]["versions"] == ["2014", "2015", "2016-draft"]


async def test_a_bad_key_is_401_even_on_public_reads(client: AsyncClient) -> None:
    response = await client.get(
        "/v1/frameworks", headers={"Authorization": "Bearer cpro_not-a-real-key"}
    )
    assert response.status_code == 401
    basic = await client.get("/v1/frameworks", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
