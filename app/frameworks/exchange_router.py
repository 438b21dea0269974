"""Export a version as a JSON, CSV or CASE file; import a CSV or CASE file as a new draft."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.dependencies import Anyone, Staff
from app.core.database import Session
from app.core.errors import PayloadTooLarge, problem_responses
from app.core.http_cache import cached_response
from app.frameworks import catalogue, exchange
from app.frameworks.exchange import MAX_IMPORT_BYTES, ExportFormat, ImportFormat
from app.frameworks.router import _cache_control, _visible_version
from app.frameworks.schemas import FrameworkVersionOut, Slug, VersionLabel

router = APIRouter(prefix="/v1", tags=["Frameworks"])

_CSV_EXAMPLE = (
    "framework,framework_title,version,cluster,cluster_name,competency,competency_name,"
    "element,element_name,level,level_name,level_rank,polarity,text,complete\r\n"
    "csc-leadership-competencies,CSC Leadership Competency Framework,2015,,,leading-change,"
    "Leading Change,advances-and-sustains-change,Advances and sustains change,advanced,Advanced,"
    '3,positive,"Communicates the vision with clarity, enthusiasm and conviction.",true\r\n'
)
_CASE_EXAMPLE = {
    "CFDocument": {
        "identifier": "8e3b0a4c-3f1e-5b8e-9d4a-0c6f2b7d1e90",
        "uri": "https://cpro.example/ims/case/v1p1/CFDocuments/8e3b0a4c-3f1e-5b8e-9d4a-0c6f2b7d1e90",
        "caseVersion": "1.1",
        "creator": "Civil Service Commission (Philippines)",
        "title": "CSC Leadership Competency Framework",
        "lastChangeDateTime": "2015-06-01T00:00:00Z",
        "version": "2016",
    },
    "CFItems": [],
    "CFAssociations": [],
}


async def _read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES} bytes.")
    return bytes(body)


def _base_url(request: Request) -> str:
    # The configured public URL, not the request's Host: published uris must not depend on
    # (or be poisoned through) whatever host a caller or an internal proxy sent.
    return str(request.app.state.settings.public_root)


@router.get(
    "/frameworks/{slug}/versions/{version}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as an attachment (`Content-Disposition`).",
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {"slug": "csc-leadership-competencies", "version": "2015"},
                },
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        },
        304: {"description": "Not modified (`If-None-Match` matched)."},
        **problem_responses(404, 422),
    },
    summary="Export a version as a JSON, CSV or CASE file",
)
async def export_framework_version(
    slug: Slug,
    version: VersionLabel,
    request: Request,
    session: Session,
    caller: Anyone,
    file_format: Annotated[
        ExportFormat,
        Query(
            alias="format",
            description="`json` (the framework document), `csv` or `case` (a CASE 1.1 CFPackage).",
        ),
    ] = "json",
) -> Response:
    """One version as a file to keep or to import elsewhere. Published and retired versions are
    public; drafts are for admin and staff.

    - `json`: the framework document, exactly what `POST /v1/frameworks` takes.
    - `csv`: UTF-8, one row per indicator with the columns `framework`, `framework_title`,
      `version`, `cluster`, `cluster_name`, `competency`, `competency_name`, `element`,
      `element_name`, `level`, `level_name`, `level_rank`, `polarity`, `text`, `complete`. A
      competency without indicators has one row with the indicator columns empty. Definitions,
      features, core descriptions and version notes are not in the CSV.
    - `case`: a 1EdTech CASE 1.1 CFPackage (the same as `GET /ims/case/v1p1/CFPackages/{id}`
      for published versions). Identifiers are UUID v5, stable and never shared by two
      versions. Items are typed by `CFItemType` (`Cluster`, `Competency`, `Level`,
      `Level Description`, `Feature`, `Element`, `Indicator`, `Negative Indicators`,
      `Negative Indicator`) and linked by `isChildOf`; an indicator's level is a `hasSkillLevel`
      association; `humanCodingScheme` holds codes, `listEnumeration` positions (ranks for
      levels), `abbreviatedStatement` the name of a competency or cluster whose
      `fullStatement` is its definition or description, `alternativeLabel` a competency's
      attribute, and `notes` marks text the source cuts off. A CFRubric gives each competency's
      level scale with its core descriptions.

    Each format imports back (`POST .../versions:import`, `POST /v1/frameworks` for JSON) to
    the same file."""
    ref = await _visible_version(session, caller, slug, version)
    file = await exchange.export_version(session, ref, file_format, base_url=_base_url(request))
    return cached_response(
        request,
        file.body,
        file.etag,
        cache_control=_cache_control(ref, current=False),
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.post(
    "/frameworks/{slug}/versions:import",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 413, 422),
    summary="Create a draft version from a CSV or CASE file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file, as exported by `.../export?format=csv` or `format=case`.",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                "application/json": {"schema": {"type": "object"}, "example": _CASE_EXAMPLE},
            },
        }
    },
)
async def import_framework_version(
    slug: Slug,
    request: Request,
    session: Session,
    caller: Staff,
    file_format: Annotated[
        ImportFormat,
        Query(alias="format", description="`csv` (`text/csv`) or `case` (a CASE 1.1 CFPackage)."),
    ],
) -> FrameworkVersionOut:
    """Store a CSV or CASE file (the shapes `export` gives, up to 10 MB) as a new **draft**
    version of framework `slug`, creating the framework when it is new. The version label is
    the `version` column of the CSV, or the CFDocument's `version`; the framework title comes
    from the file too, its other metadata stays as it is (null for a new framework).

    Anything wrong with the file is a 422 whose `errors` list every problem, each at its place:
    `csv.header`, `csv.row[12].level` (rows numbered as in a spreadsheet, the header being
    row 1), `case.CFItems[3].humanCodingScheme`, `case.CFAssociations[7]`... Nothing is
    written then. A version label that exists: 409."""
    data = await _read_body(request)
    ref = await exchange.import_version(session, slug, file_format, data, actor=caller)
    return await catalogue.document(session, ref)
