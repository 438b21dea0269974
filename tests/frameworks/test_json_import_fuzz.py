"""Random, truncated and mutated JSON framework documents (``POST /v1/frameworks``): always a
4xx problem with nothing written, or a whole new draft; never a 500."""

import copy
import json
from typing import Any

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.frameworks.reference import bundled_documents
from tests.factories import auth_headers
from tests.frameworks.test_import_bad_input import _JSON, _counts

CSC = "csc-leadership-competencies"
# The bundled CSC 2015 document: its label exists, so even the whole file is refused (409).
DOCUMENT = next(
    doc for doc, _ in bundled_documents() if (doc.slug, doc.version) == (CSC, "2015")
).model_dump(mode="json")
DOCUMENT_BYTES = json.dumps(DOCUMENT).encode()

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """The document with one value somewhere inside it replaced by something else."""
    document = copy.deepcopy(DOCUMENT)
    parent: Any = document
    key: Any = draw(st.sampled_from(sorted(document)))
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        child = parent[key]
        if isinstance(child, dict) and child:
            parent, key = child, draw(st.sampled_from(sorted(child)))
        elif isinstance(child, list) and child:
            parent, key = child, draw(st.integers(min_value=0, max_value=len(child) - 1))
        else:
            break
    parent[key] = draw(_SCALARS | st.lists(_SCALARS, max_size=3) | st.just({}))
    return json.dumps(document).encode()


BODIES = st.one_of(
    st.integers(min_value=0, max_value=len(DOCUMENT_BYTES)).map(lambda n: DOCUMENT_BYTES[:n]),
    st.binary(max_size=300),
    _JSON,
    _mutated(),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
async def test_random_truncated_and_mutated_documents_are_refused_never_a_500(
    client: AsyncClient, session: AsyncSession, body: bytes
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    response = await client.post(
        "/v1/frameworks", content=body, headers=staff | {"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    if response.status_code == 201:  # a mutation that is still a valid document, e.g. a new label
        created = response.json()
        stored = await client.get(
            f"/v1/frameworks/{created['slug']}/versions/{created['version']}", headers=staff
        )
        assert stored.json() == created
    else:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert await _counts(session) == before
