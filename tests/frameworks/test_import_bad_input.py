"""Importing CSV and CASE files: what a good file makes, and every bad file a 422 (never a 500)
listing its problems, with nothing written."""

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.frameworks import case, csv_format
from app.frameworks.exchange import MAX_IMPORT_BYTES
from app.frameworks.models import Framework, FrameworkVersion, Indicator
from app.frameworks.reference import bundled_documents
from app.frameworks.schemas import FrameworkVersionOut
from tests.factories import auth_headers

NEW = "new-leadership-framework"
CSC = "csc-leadership-competencies"
_CSC_2015 = next(doc for doc, _ in bundled_documents() if (doc.slug, doc.version) == (CSC, "2015"))
_WHEN = datetime(2015, 6, 1, tzinfo=UTC)
# What the export endpoints give for csc 2015 (a label that exists: a good file is a 409).
CSC_CSV = csv_format.write_csv(_CSC_2015)
CSC_CASE = json.dumps(
    case.package(
        FrameworkVersionOut.model_validate(
            _CSC_2015.model_dump()
            | {
                "status": "published",
                "published_at": _WHEN,
                "retired_at": None,
                "updated_at": _WHEN,
            }
        ),
        "http://testserver",
    )
).encode()


def _row(**cells: str) -> dict[str, str]:
    row = {
        "framework": NEW,
        "framework_title": "New Leadership Framework",
        "version": "1",
        "cluster": "people",
        "cluster_name": "People",
        "competency": "coaching",
        "competency_name": "Coaching",
        "element": "",
        "element_name": "",
        "level": "basic",
        "level_name": "Basic",
        "level_rank": "1",
        "polarity": "positive",
        "text": "Gives feedback.",
        "complete": "true",
    }
    return row | cells


def _csv(*rows: dict[str, str], columns: tuple[str, ...] = csv_format.COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


GOOD_ROWS = (
    _row(element="feedback", element_name="Feedback"),
    _row(
        element="feedback",
        element_name="Feedback",
        level="advanced",
        level_name="Advanced",
        level_rank="2",
        text="Builds a feedback culture.",
        complete="false",
    ),
    _row(level="", level_name="", level_rank="", polarity="negative", text="Avoids feedback."),
    _row(cluster="", cluster_name="", competency="planning", competency_name="Planning"),
    _row(
        cluster="",
        cluster_name="",
        competency="budgeting",
        competency_name="Budgeting",
        **dict.fromkeys(csv_format.INDICATOR_COLUMNS, ""),
    ),
)


async def _counts(session: AsyncSession) -> tuple[int, int, int]:
    return (
        await session.scalar(select(func.count()).select_from(Framework)) or 0,
        await session.scalar(select(func.count()).select_from(FrameworkVersion)) or 0,
        await session.scalar(select(func.count()).select_from(Indicator)) or 0,
    )


async def _post(
    client: AsyncClient, fmt: str, body: bytes, headers: dict[str, str], slug: str = NEW
) -> Response:
    media = "text/csv" if fmt == "csv" else "application/json"
    return await client.post(
        f"/v1/frameworks/{slug}/versions:import",
        params={"format": fmt},
        content=body,
        headers=headers | {"Content-Type": media},
    )


def _fields(response: Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


# -- good files --------------------------------------------------------------------------------


async def test_a_csv_file_becomes_a_draft_with_clusters_elements_and_levels(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await _post(client, "csv", _csv(*GOOD_ROWS), staff)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["slug"], body["version"], body["status"]) == (NEW, "1", "draft")
    assert (body["title"], body["publisher"], body["jurisdiction"]) == (
        "New Leadership Framework",
        None,
        None,
    )
    assert body["levels"] == [
        {"code": "basic", "name": "Basic", "rank": 1},
        {"code": "advanced", "name": "Advanced", "rank": 2},
    ]
    assert body["clusters"] == [{"code": "people", "name": "People", "description": None}]
    coaching, planning, budgeting = body["competencies"]
    assert (coaching["cluster"], planning["cluster"]) == ("people", None)
    assert coaching["elements"] == [{"code": "feedback", "name": "Feedback", "complete": True}]
    assert [(i["level"], i["polarity"], i["complete"]) for i in coaching["indicators"]] == [
        ("basic", "positive", True),
        ("advanced", "positive", False),
        (None, "negative", True),
    ]
    assert budgeting["indicators"] == []
    exported = await client.get(
        f"/v1/frameworks/{NEW}/versions/1/export", params={"format": "csv"}, headers=staff
    )
    assert exported.content == _csv(*GOOD_ROWS)


async def test_levels_that_differ_between_competencies_become_their_own_scales(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    rows = (
        _row(level="stage-1", level_name="Stage 1 - Listens", level_rank="1"),
        _row(
            competency="planning",
            competency_name="Planning",
            level="stage-1",
            level_name="Stage 1 - Plans",
            level_rank="1",
        ),
    )
    body = (await _post(client, "csv", _csv(*rows), staff)).json()
    assert body["levels"] == []
    assert [c["levels"][0]["name"] for c in body["competencies"]] == [
        "Stage 1 - Listens",
        "Stage 1 - Plans",
    ]


async def test_a_csv_import_keeps_the_framework_metadata_the_rows_do_not_carry(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    next_version = CSC_CSV.replace(b",2015,", b",2026,")
    response = await _post(client, "csv", next_version, staff, slug=CSC)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["version"], body["publisher"], body["jurisdiction"]) == (
        "2026",
        _CSC_2015.publisher,
        "PH",
    )
    assert body["source"] == _CSC_2015.source and body["notes"] is None
    assert sum(len(c["indicators"]) for c in body["competencies"]) == 106


async def test_a_case_package_becomes_a_draft_with_everything_it_carries(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    package = json.loads(CSC_CASE)
    package["CFDocument"]["version"] = "2026"
    response = await _post(client, "case", json.dumps(package).encode(), staff, slug=CSC)
    assert response.status_code == 201, response.text
    body = response.json()
    expected = _CSC_2015.model_dump() | {"version": "2026", "status": "draft"}
    assert {key: body[key] for key in expected} == expected


# -- bad files ---------------------------------------------------------------------------------


def _without(column: str) -> bytes:
    return _csv(GOOD_ROWS[0], columns=tuple(c for c in csv_format.COLUMNS if c != column))


CSV_PROBLEMS: list[tuple[str, bytes, set[str]]] = [
    ("empty file", b"", {"csv"}),
    ("header only", _csv(), {"csv.row[2]"}),
    ("not UTF-8", _csv(_row(text="Caf\xe9")).replace(b"\xc3\xa9", b"\xe9"), {"csv"}),
    ("missing column", _without("level_rank"), {"csv.header"}),
    ("unknown column", _csv(_row(), columns=(*csv_format.COLUMNS, "colour")), {"csv.header"}),
    ("unterminated quote", _csv(_row()) + b'x,"unterminated', {"csv.row[3]"}),
    ("stray quote", _csv(_row()).replace(b"Gives feedback.", b'"Gives" feedback.'), {"csv.row[2]"}),
    ("short row", _csv(_row()) + b"a,b,c\r\n", {"csv.row[3]"}),
    ("wrong slug", _csv(_row(framework="another-framework")), {"csv.row[2].framework"}),
    ("empty text", _csv(_row(), _row(text="  ")), {"csv.row[3].text"}),
    ("bad code", _csv(_row(competency="Coaching People")), {"csv.row[2].competency"}),
    ("bad rank", _csv(_row(level_rank="first")), {"csv.row[2].level_rank"}),
    ("bad polarity", _csv(_row(polarity="neutral")), {"csv.row[2].polarity"}),
    ("bad complete", _csv(_row(complete="maybe")), {"csv.row[2].complete"}),
    # Refused by the app-wide input guard before the importer reads it (app/core/input_guard.py).
    ("NUL", _csv(_row(text="Gives\x00feedback.")), {"body"}),
    ("negative with a level", _csv(_row(polarity="negative")), {"csv.row[2].level"}),
    ("two versions", _csv(_row(), _row(version="2")), {"csv.row[3].version"}),
    (
        "level redefined",
        _csv(_row(), _row(level_rank="2", text="Listens.")),
        {"csv.row[3].level_name"},
    ),
    (
        "rank taken",
        _csv(_row(), _row(level="advanced", level_name="Advanced", text="Listens.")),
        {"csv.row[3].level_rank"},
    ),
    (
        "competency renamed",
        _csv(_row(), _row(competency_name="Coaching Others")),
        {"csv.row[3].competency_name"},
    ),
    (
        "element without a name",
        _csv(_row(element="feedback")),
        {"csv.row[2].element_name"},
    ),
    (
        "competency without indicators given twice",
        _csv(_row(), _row(**dict.fromkeys(csv_format.INDICATOR_COLUMNS, ""))),
        {"csv.row[3].text"},
    ),
]


@pytest.mark.parametrize(
    ("body", "fields"), [(b, f) for _, b, f in CSV_PROBLEMS], ids=[n for n, _, _ in CSV_PROBLEMS]
)
async def test_a_bad_csv_file_is_a_422_naming_each_problem_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, body: bytes, fields: set[str]
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    response = await _post(client, "csv", body, staff)
    assert _fields(response) == fields
    assert all(error["message"] for error in response.json()["errors"])
    assert await _counts(session) == before


async def test_every_problem_of_a_csv_file_is_listed_at_once(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    body = _csv(
        _row(),
        _row(framework="elsewhere", text=""),
        _row(level_rank="0", polarity="up"),
        _row(competency="", competency_name=""),
    )
    assert _fields(await _post(client, "csv", body, staff)) == {
        "csv.row[3].framework",
        "csv.row[3].text",
        "csv.row[4].level_rank",
        "csv.row[4].polarity",
        "csv.row[5].competency",
    }


def _case(change: Any) -> bytes:
    package = json.loads(CSC_CASE)
    package["CFDocument"]["version"] = "2026"
    change(package)
    return json.dumps(package).encode()


def _item(package: dict[str, Any], item_type: str, n: int = 0) -> dict[str, Any]:
    items = [i for i in package["CFItems"] if i["CFItemType"] == item_type]
    item: dict[str, Any] = items[n]
    return item


def _index(package: dict[str, Any], item: dict[str, Any]) -> int:
    index: int = package["CFItems"].index(item)
    return index


def _parent_association(package: dict[str, Any], item: dict[str, Any]) -> int:
    return next(
        a
        for a, association in enumerate(package["CFAssociations"])
        if association["associationType"] == "isChildOf"
        and association["originNodeURI"]["identifier"] == item["identifier"]
    )


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    target[key] = value


# The first Competency, Indicator and Level of csc 2015, by index in CFItems.
_PKG = json.loads(CSC_CASE)
C0 = _index(_PKG, _item(_PKG, "Competency"))
C1 = _index(_PKG, _item(_PKG, "Competency", 1))
I0 = _index(_PKG, _item(_PKG, "Indicator"))
A_I0 = _parent_association(_PKG, _item(_PKG, "Indicator"))
A_C0 = _parent_association(_PKG, _item(_PKG, "Competency"))
SKILL_I0 = next(
    a
    for a, association in enumerate(_PKG["CFAssociations"])
    if association["associationType"] == "hasSkillLevel"
    and association["originNodeURI"]["identifier"] == _PKG["CFItems"][I0]["identifier"]
)

CASE_PROBLEMS: list[tuple[str, bytes, set[str]]] = [
    ("empty body", b"", {"case"}),
    ("not JSON", b"{'CFDocument': ", {"case"}),
    ("not UTF-8", b'{"CFDocument": "\xff"}', {"case"}),
    # The contract says the body is an object: the app-wide input guard refuses it first.
    ("an array", b"[]", {"body"}),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, {"case"}),
    ("no CFDocument", b'{"CFItems": []}', {"case.CFDocument"}),
    ("no version", _case(lambda p: p["CFDocument"].pop("version")), {"case.CFDocument.version"}),
    (
        "bad version label",
        _case(lambda p: _set(p["CFDocument"], "version", "two thousand")),
        {"case.CFDocument.version"},
    ),
    (
        "statement not a string",
        _case(lambda p: _set(p["CFItems"][I0], "fullStatement", 42)),
        {f"case.CFItems[{I0}].fullStatement"},
    ),
    (
        "empty statement",
        _case(lambda p: _set(p["CFItems"][I0], "fullStatement", " ")),
        {f"case.CFItems[{I0}].fullStatement"},
    ),
    (
        "NUL in a statement",
        _case(lambda p: _set(p["CFItems"][I0], "fullStatement", "a\x00b")),
        {f"body.CFItems[{I0}].fullStatement"},
    ),
    (
        "lone surrogate",
        _case(lambda p: _set(p["CFItems"][I0], "fullStatement", "a\ud800b")),
        {f"body.CFItems[{I0}].fullStatement"},
    ),
    (
        "unknown item type",
        _case(lambda p: _set(p["CFItems"][I0], "CFItemType", "Skill")),
        {f"case.CFItems[{I0}].CFItemType"},
    ),
    (
        "duplicate identifier",
        _case(lambda p: p["CFItems"].append(p["CFItems"][C0])),
        {f"case.CFItems[{len(_PKG['CFItems'])}].identifier"},
    ),
    (
        "duplicate competency code",
        _case(
            lambda p: _set(
                p["CFItems"][C1], "humanCodingScheme", p["CFItems"][C0]["humanCodingScheme"]
            )
        ),
        {f"case.CFItems[{C1}].humanCodingScheme"},
    ),
    (
        "bad position",
        _case(lambda p: _set(p["CFItems"][I0], "listEnumeration", "first")),
        {f"case.CFItems[{I0}].listEnumeration"},
    ),
    (
        "parent unknown",
        _case(
            lambda p: _set(
                p["CFAssociations"][A_I0]["destinationNodeURI"], "identifier", "no-such-item"
            )
        ),
        {f"case.CFAssociations[{A_I0}].destinationNodeURI.identifier"},
    ),
    (
        "no parent",
        _case(lambda p: p["CFAssociations"].pop(A_C0)),
        {f"case.CFItems[{C0}]"},
    ),
    (
        "wrong kind of parent",
        _case(
            lambda p: _set(
                p["CFAssociations"][A_C0]["destinationNodeURI"],
                "identifier",
                p["CFItems"][C1]["identifier"],
            )
        ),
        {f"case.CFAssociations[{A_C0}].destinationNodeURI.identifier"},
    ),
    (
        "level that is not a level",
        _case(
            lambda p: _set(
                p["CFAssociations"][SKILL_I0]["destinationNodeURI"],
                "identifier",
                p["CFItems"][C0]["identifier"],
            )
        ),
        {f"case.CFAssociations[{SKILL_I0}].destinationNodeURI.identifier"},
    ),
    (
        "negative indicator with a level",
        _case(lambda p: _set(p["CFItems"][I0], "CFItemType", "Negative Indicator")),
        {f"case.CFAssociations[{SKILL_I0}]"},
    ),
]


@pytest.mark.parametrize(
    ("body", "fields"), [(b, f) for _, b, f in CASE_PROBLEMS], ids=[n for n, _, _ in CASE_PROBLEMS]
)
async def test_a_bad_case_package_is_a_422_naming_each_problem_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, body: bytes, fields: set[str]
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    response = await _post(client, "case", body, staff, slug=CSC)
    assert _fields(response) == fields
    assert await _counts(session) == before


@pytest.mark.parametrize(("fmt", "body"), [("csv", CSC_CSV), ("case", CSC_CASE)])
async def test_a_version_label_that_exists_is_a_409_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, fmt: str, body: bytes
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    response = await _post(client, fmt, body, staff, slug=CSC)
    assert response.status_code == 409
    assert await _counts(session) == before


async def test_a_file_over_the_limit_is_a_413(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await _post(client, "csv", b"x" * (MAX_IMPORT_BYTES + 1), staff)
    assert response.status_code == 413
    assert response.json()["type"] == "urn:cpro:problem:payload-too-large"


async def test_only_admin_and_staff_may_import(client: AsyncClient, session: AsyncSession) -> None:
    reader = await auth_headers(session, Role.reader)
    assert (await _post(client, "csv", _csv(*GOOD_ROWS), {})).status_code == 401
    assert (await _post(client, "csv", _csv(*GOOD_ROWS), reader)).status_code == 403
    bad_format = await _post(
        client, "xml", _csv(*GOOD_ROWS), await auth_headers(session, Role.admin)
    )
    assert bad_format.status_code == 422


# -- random and truncated files ----------------------------------------------------------------


def _truncations(body: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(min_value=0, max_value=len(body)).map(lambda n: body[:n])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["CFDocument", "CFItems", "CFAssociations", "identifier", "title"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
).map(lambda value: json.dumps(value).encode())

BODIES = {
    "csv": st.one_of(
        _truncations(CSC_CSV),
        st.binary(max_size=500),
        st.text(max_size=500).map(str.encode),
        _truncations(_csv(*GOOD_ROWS)),  # rows of another framework
    ),
    "case": st.one_of(_truncations(CSC_CASE), st.binary(max_size=500), _JSON),
}


@pytest.mark.parametrize("fmt", ["csv", "case"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_and_truncated_files_are_refused_never_a_500(
    client: AsyncClient, session: AsyncSession, fmt: str, data: st.DataObject
) -> None:
    body = data.draw(BODIES[fmt])
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    response = await _post(client, fmt, body, staff, slug=CSC)
    assert 400 <= response.status_code < 500, response.text
    assert await _counts(session) == before
