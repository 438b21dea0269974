"""Framework catalogue routes. Published versions are public; drafts are for admin and staff."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from sqlalchemy import event

from app.auth.dependencies import Anyone, Staff
from app.auth.roles import Role
from app.auth.service import Caller
from app.core.database import Session
from app.core.errors import NotFound, problem_responses
from app.core.http_cache import cached_response, strong_etag
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.frameworks import catalogue
from app.frameworks.case.provider import CaseIndex, ProviderIndex
from app.frameworks.diff import diff_versions
from app.frameworks.published import IndicatorFilter, PublishedIndex, PublishedIndicators
from app.frameworks.schemas import (
    Code,
    CompetencyDoc,
    FrameworkDocument,
    FrameworkSummary,
    FrameworkVersionOut,
    IndicatorOut,
    Polarity,
    Slug,
    VersionDiff,
    VersionLabel,
    VersionStatus,
    VersionSummary,
)
from app.frameworks.search import search_indicators
from app.frameworks.service import (
    VersionRef,
    create_version,
    current_version,
    get_version,
    replace_draft,
    set_status,
)

router = APIRouter(prefix="/v1", tags=["Frameworks"])

CURRENT_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=86400"
PRIVATE_CACHE = "private, no-cache"

SearchText = Annotated[
    str | None,
    Query(
        max_length=200,
        description='Full-text search (English stemming; `"exact phrase"`, `or`, `-not`), results ranked.',
        examples=["coaching"],
    ),
]


async def _current_documents(request: Request) -> catalogue.CurrentDocuments:
    state = request.app.state
    documents: catalogue.CurrentDocuments | None = getattr(state, "current_documents", None)
    if documents is None:
        documents = state.current_documents = catalogue.CurrentDocuments(
            state.settings.framework_cache_seconds
        )
    return documents


CurrentDocuments = Annotated[catalogue.CurrentDocuments, Depends(_current_documents)]


def _forget_current(
    session: Session,
    slug: str,
    current: catalogue.CurrentDocuments,
    published: PublishedIndicators,
    case_index: ProviderIndex,
) -> None:
    """Which version is current changes: forget it now, and again once the change is committed
    (a read between the two would otherwise remember the old answer for the cache's lifetime)."""

    def forget(*_: object) -> None:
        current.forget(slug)
        published.forget_current()
        case_index.forget()

    forget()
    event.listen(session.sync_session, "after_commit", forget, once=True)


def _sees_drafts(caller: Caller | None) -> bool:
    return caller is not None and caller.role in (Role.admin, Role.staff)


async def _visible_version(
    session: Session, caller: Caller | None, slug: str, version: str
) -> VersionRef:
    ref = await get_version(session, slug, version)
    if ref.version.status == "draft" and not _sees_drafts(caller):
        raise NotFound(f"Framework {slug!r} has no version {version!r}.")
    return ref


def _cache_control(ref: VersionRef, *, current: bool) -> str:
    if ref.version.status == "draft":
        return PRIVATE_CACHE
    return CURRENT_CACHE if current or ref.version.status == "published" else IMMUTABLE_CACHE


@router.get("/frameworks", responses=problem_responses(401, 422), summary="List frameworks")
async def list_frameworks(
    session: Session,
    caller: Anyone,
    publisher: Annotated[str | None, Query(max_length=300, description="Exact publisher.")] = None,
    jurisdiction: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", examples=["PH"])] = None,
    status_: Annotated[VersionStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[FrameworkSummary]:
    """Every framework in the catalogue, by slug, with its current published version and the
    labels of its versions. Without an admin or staff key, drafts are not shown."""
    items, next_cursor = await catalogue.list_frameworks(
        session,
        include_drafts=_sees_drafts(caller),
        publisher=publisher,
        jurisdiction=jurisdiction,
        status=status_,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/frameworks/{slug}",
    response_model=FrameworkVersionOut,
    responses={
        304: {"description": "Not modified (`If-None-Match` matched)."},
        **problem_responses(404),
    },
    summary="Get a framework's current version",
)
async def get_current_framework(
    slug: Slug, request: Request, session: Session, caller: Anyone, current: CurrentDocuments
) -> Response:
    """The latest published version as one document: `levels`, `clusters` and a flat
    `competencies` list, each with its elements, level descriptions and indicators.
    Cacheable: send the `ETag` back as `If-None-Match` to get a 304."""
    document = current.get(slug)
    if document is None:
        ref = await current_version(session, slug)
        body, etag = await catalogue.document_bytes(session, ref)
        document = current.put(slug, body, etag)
    return cached_response(request, document.body, document.etag, cache_control=CURRENT_CACHE)


@router.get(
    "/frameworks/{slug}/versions",
    responses=problem_responses(404, 422),
    summary="List a framework's versions",
)
async def list_versions(slug: Slug, session: Session, caller: Anyone) -> Page[VersionSummary]:
    """Every version, oldest first, with its status and size. Drafts only for admin and staff.

    In the list envelope like every other list (until 2026-12 this answered a bare array). A
    framework has a handful of versions, so they all come in one page: `next_cursor` is null."""
    items = await catalogue.version_summaries(session, slug, include_drafts=_sees_drafts(caller))
    return Page[VersionSummary](items=items, next_cursor=None)


@router.get(
    "/frameworks/{slug}/versions/{version}",
    response_model=FrameworkVersionOut,
    responses={304: {"description": "Not modified."}, **problem_responses(404)},
    summary="Get one version of a framework",
)
async def get_framework_version(
    slug: Slug, version: VersionLabel, request: Request, session: Session, caller: Anyone
) -> Response:
    """One version as a document, whatever its status (drafts: admin and staff only)."""
    ref = await _visible_version(session, caller, slug, version)
    body, etag = await catalogue.document_bytes(session, ref)
    return cached_response(request, body, etag, cache_control=_cache_control(ref, current=False))


@router.get(
    "/frameworks/{slug}/versions/{version}/diff/{other}",
    responses=problem_responses(401, 404, 422),
    summary="Compare two versions of a framework",
)
async def diff_framework_versions(
    slug: Slug, version: VersionLabel, other: VersionLabel, session: Session, caller: Anyone
) -> VersionDiff:
    """What changed from `version` to `other`: framework levels, clusters and competencies
    added, removed or changed (matched by `code`; a competency is changed when its name,
    cluster, attribute, definition, features, negative indicators title, own levels, level
    descriptions or elements differ, each listed under `changes` with its value before and
    after), and indicators added, removed or changed.

    Indicators have no code, so they are matched by **place** (competency, element, level,
    polarity) and **text**: within one place, an indicator whose text is in both versions is the
    same indicator (changed only if its `complete` flag differs); the indicators of a place left
    over on each side are then paired in document order, and each pair is an indicator whose text
    changed in place. Whatever is still unpaired is removed or added; an indicator that moves to
    another competency, element or level shows as removed there and added here.

    Either order works (`2015/diff/2014` is the reverse of `2014/diff/2015`). Drafts can be
    compared by admin and staff only."""
    old = await _visible_version(session, caller, slug, version)
    new = await _visible_version(session, caller, slug, other)
    return diff_versions(
        await catalogue.document(session, old), await catalogue.document(session, new)
    )


@router.get(
    "/frameworks/{slug}/competencies/{code}",
    responses=problem_responses(404, 422),
    summary="Get one competency",
)
async def get_competency(
    slug: Slug,
    code: Code,
    session: Session,
    caller: Anyone,
    version: Annotated[
        VersionLabel | None, Query(description="Default: the current published version.")
    ] = None,
) -> CompetencyDoc:
    """A competency of the current (or given) version with its levels, elements and indicators."""
    ref = await (
        _visible_version(session, caller, slug, version)
        if version
        else current_version(session, slug)
    )
    document = await catalogue.document(session, ref)
    for competency in document.competencies:
        if competency.code == code:
            return competency
    raise NotFound(f"Version {ref.version.version!r} of {slug!r} has no competency {code!r}.")


@router.get(
    "/frameworks/{slug}/indicators",
    response_model=Page[IndicatorOut],
    responses={
        304: {"description": "Not modified (`If-None-Match` matched)."},
        **problem_responses(404, 422),
    },
    summary="List or search a framework's indicators",
)
async def list_framework_indicators(
    slug: Slug,
    request: Request,
    session: Session,
    caller: Anyone,
    published: PublishedIndex,
    version: Annotated[
        VersionLabel | None, Query(description="Default: the current published version.")
    ] = None,
    competency: Annotated[Code | None, Query(description="A competency code.")] = None,
    level: Annotated[
        Code | None, Query(description="A level code, e.g. `advanced`, `level-3`, `stage-2`.")
    ] = None,
    element: Annotated[Code | None, Query(description="An element code.")] = None,
    polarity: Polarity | None = None,
    q: SearchText = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    """Indicators, flat: each names its framework, version, competency, element and level.
    In source order, or by relevance when `q` is given. Pages of published and retired versions
    carry a strong `ETag` (`If-None-Match` -> 304)."""
    ref = await (
        _visible_version(session, caller, slug, version)
        if version
        else current_version(session, slug)
    )
    if ref.version.status == "draft":
        items, next_cursor = await search_indicators(
            session,
            version_ids=[ref.version.id],
            competency=competency,
            level=level,
            element=element,
            polarity=polarity,
            q=q,
            cursor=cursor,
            limit=limit,
        )
        body = Page(items=items, next_cursor=next_cursor).model_dump_json().encode()
        return cached_response(request, body, strong_etag(body), cache_control=PRIVATE_CACHE)
    body = await published.page(
        session,
        [ref.version.id],
        IndicatorFilter(competency=competency, level=level, element=element, polarity=polarity),
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return cached_response(
        request, body, strong_etag(body), cache_control=_cache_control(ref, current=not version)
    )


@router.get(
    "/indicators",
    response_model=Page[IndicatorOut],
    responses={
        304: {"description": "Not modified (`If-None-Match` matched)."},
        **problem_responses(422),
    },
    summary="Search indicators across frameworks",
)
async def search_all_indicators(
    request: Request,
    session: Session,
    caller: Anyone,
    published: PublishedIndex,
    q: SearchText = None,
    framework: Annotated[Slug | None, Query(description="Only this framework.")] = None,
    polarity: Polarity | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    """Indicators of the current published version of every framework, ranked by relevance
    to `q` (or in source order without `q`). Answers carry a strong `ETag`
    (`If-None-Match` -> 304) and may be cached for five minutes."""
    body = await published.page(
        session,
        await published.current_versions(session),
        IndicatorFilter(framework=framework, polarity=polarity),
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return cached_response(request, body, strong_etag(body), cache_control=CURRENT_CACHE)


# -- authoring ---------------------------------------------------------------------------------


@router.post(
    "/frameworks",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    summary="Create a draft version from a JSON document",
)
async def create_framework_version(
    document: Annotated[FrameworkDocument, Body()], session: Session, caller: Staff
) -> FrameworkVersionOut:
    """Store a framework document (the shape `export?format=json` gives) as a new **draft**
    version, creating the framework when its `slug` is new. A version label that exists: 409.
    Unknown levels, clusters or elements, duplicate codes and empty texts: 422 listing each."""
    ref = await create_version(session, document, actor=caller)
    return await catalogue.document(session, ref)


@router.put(
    "/frameworks/{slug}/versions/{version}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Replace a draft version",
)
async def put_draft_version(
    slug: Slug,
    version: VersionLabel,
    document: Annotated[FrameworkDocument, Body()],
    session: Session,
    caller: Staff,
) -> FrameworkVersionOut:
    """Replace a draft's whole content. Published and retired versions never change (409)."""
    ref = await replace_draft(
        session, await get_version(session, slug, version), document, actor=caller
    )
    return await catalogue.document(session, ref)


@router.post(
    "/frameworks/{slug}/versions/{version}/publish",
    responses=problem_responses(401, 403, 404, 409),
    summary="Publish a draft version",
)
async def publish_version(
    slug: Slug,
    version: VersionLabel,
    session: Session,
    caller: Staff,
    current: CurrentDocuments,
    published: PublishedIndex,
    case_index: CaseIndex,
) -> VersionSummary:
    """The draft becomes published and, being the newest, the framework's current version.
    From now on it never changes."""
    _forget_current(session, slug, current, published, case_index)
    ref = await set_status(
        session, await get_version(session, slug, version), "published", actor=caller
    )
    return (await catalogue.summaries_of(session, [ref.version]))[0]


@router.post(
    "/frameworks/{slug}/versions/{version}/retire",
    responses=problem_responses(401, 403, 404, 409),
    summary="Retire a published version",
)
async def retire_version(
    slug: Slug,
    version: VersionLabel,
    session: Session,
    caller: Staff,
    current: CurrentDocuments,
    published: PublishedIndex,
    case_index: CaseIndex,
) -> VersionSummary:
    """A retired version stays readable (assessments pinned to it still resolve) but is no
    longer the current version."""
    _forget_current(session, slug, current, published, case_index)
    ref = await set_status(
        session, await get_version(session, slug, version), "retired", actor=caller
    )
    return (await catalogue.summaries_of(session, [ref.version]))[0]
