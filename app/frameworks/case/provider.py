"""The CASE 1.1 provider's reads: published and retired versions, found by CASE identifier.

CASE identifiers are derived (``writer.py``), not stored, so finding the version behind an
identifier takes an index. Each process keeps one (on ``app.state``), and with it every public
version's objects as the binding serves them, each encoded once (bytes and a strong ETag) the
first time it is asked for. Public content never changes; retiring changes the status and an
end date only, so a version is rebuilt when its status or retirement date differ from the
indexed ones. Which versions are public, and in which state, is asked of the database (one
small query) at most once per ``CPRO_FRAMEWORK_CACHE_SECONDS``; a publish or retire in this
process forgets that at once. While the index is fresh, ``app.frameworks.fast_read`` answers
single-object reads from it before routing. Drafts are never here: the binding does not serve
them.
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.http_cache import strong_etag
from app.frameworks import catalogue
from app.frameworks.case import writer
from app.frameworks.case.vocabulary import CASE_PATH, CASE_V1P0_PATH, RESOLVER_PATH
from app.frameworks.models import Framework, FrameworkVersion
from app.frameworks.schemas import FrameworkVersionOut
from app.frameworks.service import VersionRef

PUBLIC = ("published", "retired")
Json = dict[str, Any]

# The binding's operations that take a ``sourcedId``, each answering with these objects; the
# resolver (``uri``) answers with any object alone.
SET_OF = {"CFItemTypes": "CFItemTypes", "CFSubjects": "CFSubjects", "CFConcepts": "CFConcepts"}
RESOLVER = "uri"
_SINGULAR = {
    "CFPackages": "CFPackage",
    "CFDocuments": "CFDocument",
    "CFItems": "CFItem",
    "CFItemAssociations": "CFItem",
    "CFAssociations": "CFAssociation",
    "CFRubrics": "CFRubric",
    "CFItemTypes": "CFItemType",
    "CFSubjects": "CFSubject",
    "CFConcepts": "CFConcept",
    "CFLicenses": "CFLicense",
    "CFAssociationGroupings": "CFAssociationGrouping",
    RESOLVER: "CASE object",
}


# An operation of CASE 1.0 (``v1p0/CFDocuments``): the 1.1 answer without what 1.1 added.
V1P0 = "v1p0/"
# CASE 1.0's own single-object reads; its others redirect to 1.1 (``v1p0.py``).
V1P0_OPERATIONS = ("CFDocuments", "CFPackages")


def as_v1p0(payload: Json) -> Json:
    """A CFDocument, or a package's, without ``caseVersion`` (new in CASE 1.1; the only
    1.1-only field this provider writes)."""
    if "CFDocument" in payload:
        return payload | {"CFDocument": as_v1p0(payload["CFDocument"])}
    return {key: value for key, value in payload.items() if key != "caseVersion"}


@dataclass(frozen=True, slots=True)
class Served:
    """A response body, encoded once, and its strong ETag."""

    body: bytes
    etag: str


def encode(payload: Any) -> Served:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Served(body, strong_etag(body))


def _state(version: FrameworkVersion) -> tuple[str, datetime | None]:
    return version.status, version.retired_at


@dataclass
class PublicVersion:
    """One public version's CASE objects, each as the binding serves it alone."""

    state: tuple[str, datetime | None]
    order: tuple[str, datetime, str]
    package: Json
    document: Json
    objects: dict[str, tuple[str, Json]]
    associations_of: dict[str, list[Json]]
    _served: dict[tuple[str, str], Served] = field(default_factory=dict)

    @classmethod
    def build(
        cls, doc: FrameworkVersionOut, version: FrameworkVersion, base_url: str
    ) -> "PublicVersion":
        package = writer.package(doc, base_url)
        document = writer.cf_document(doc, base_url)
        link = {key: document[key] for key in ("title", "identifier", "uri")}
        objects: dict[str, tuple[str, Json]] = {}
        associations_of: dict[str, list[Json]] = {}
        for kind, obj in writer.objects(package):
            if kind == "CFAssociations":
                # In an item's association set, associations take their package form.
                for end in ("originNodeURI", "destinationNodeURI"):
                    associations_of.setdefault(obj[end]["identifier"], []).append(obj)
            if kind == "CFDocuments":
                obj = document
            elif kind in ("CFItems", "CFAssociations"):
                # Served alone, an item or association names its document.
                obj = obj | {"CFDocumentURI": link}
            objects[obj["identifier"]] = (kind, obj)
        return cls(
            state=_state(version),
            order=(doc.slug, version.created_at, version.version),
            package=package,
            document=document,
            objects=objects,
            associations_of=associations_of,
        )

    def payload(self, operation: str, identifier: str) -> Json | None:
        """What ``operation`` answers for ``identifier``, or None when it is not one of its."""
        if operation.startswith(V1P0):
            answer = self.payload(operation.removeprefix(V1P0), identifier)
            return None if answer is None else as_v1p0(answer)
        found = self.objects.get(identifier)
        if found is None:
            return None
        kind, obj = found
        if operation == RESOLVER:
            return obj
        if operation == "CFPackages":
            return self.package if kind == "CFDocuments" else None
        if operation == "CFItemAssociations":
            if kind != "CFItems":
                return None
            return {"CFItem": obj, "CFAssociations": self.associations_of.get(identifier, [])}
        if kind != operation:
            return None
        if operation in SET_OF:
            # The one asked for first, then its children by hierarchy code.
            prefix = f"{obj['hierarchyCode']}."
            children = [
                other
                for other_kind, other in self.objects.values()
                if other_kind == kind and other["hierarchyCode"].startswith(prefix)
            ]
            return {SET_OF[operation]: [obj, *children]}
        return obj

    def served(self, operation: str, identifier: str) -> Served | None:
        key = (operation, identifier)
        if key not in self._served:
            payload = self.payload(operation, identifier)
            if payload is None:
                return None
            self._served[key] = encode(payload)
        return self._served[key]


class ProviderIndex:
    """The public versions of this process, by version id and by CASE identifier; which ones
    are public is taken as known for ``ttl`` seconds after the database was last asked."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.base_url: str | None = None
        self.versions: dict[uuid.UUID, PublicVersion] = {}
        self.by_identifier: dict[str, uuid.UUID] = {}
        self._known_until = 0.0

    def fresh(self, base_url: str) -> bool:
        return base_url == self.base_url and time.monotonic() < self._known_until

    def forget(self) -> None:
        """A version was published or retired here: ask the database on the next read."""
        self._known_until = 0.0

    def answer_if_fresh(self, operation: str, identifier: str, base_url: str) -> Served | None:
        """What ``operation`` answers for ``identifier`` (a lower-case UUID) when the index
        needs no refresh and has it; None when only the route can tell."""
        if not self.fresh(base_url):
            return None
        version_id = self.by_identifier.get(identifier)
        if version_id is None:
            return None
        return self.versions[version_id].served(operation, identifier)

    def _drop(self, version_id: uuid.UUID) -> None:
        for identifier in self.versions.pop(version_id).objects:
            self.by_identifier.pop(identifier, None)

    async def refresh(self, session: AsyncSession, base_url: str) -> None:
        if self.fresh(base_url):
            return
        if base_url != self.base_url:
            self.versions.clear()
            self.by_identifier.clear()
            self.base_url = base_url
        # Taken before the query: a publish committed while it runs is seen within ttl.
        known_until = time.monotonic() + self.ttl
        rows = await session.execute(
            select(FrameworkVersion.id, FrameworkVersion.status, FrameworkVersion.retired_at).where(
                FrameworkVersion.status.in_(PUBLIC)
            )
        )
        public = {row.id: (row.status, row.retired_at) for row in rows}
        for version_id in set(self.versions) - set(public):
            self._drop(version_id)
        stale = {
            version_id
            for version_id, state in public.items()
            if version_id not in self.versions or self.versions[version_id].state != state
        }
        if stale:
            await self._build(session, stale, base_url)
        self._known_until = known_until

    async def _build(self, session: AsyncSession, stale: set[uuid.UUID], base_url: str) -> None:
        found = await session.execute(
            select(Framework, FrameworkVersion)
            .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
            .where(FrameworkVersion.id.in_(stale), FrameworkVersion.status.in_(PUBLIC))
        )
        for framework, version in found:
            doc = await catalogue.document(session, VersionRef(framework, version))
            if version.id in self.versions:
                self._drop(version.id)
            built = PublicVersion.build(doc, version, base_url)
            self.versions[version.id] = built
            self.by_identifier.update(dict.fromkeys(built.objects, version.id))

    def ordered(self) -> list[PublicVersion]:
        """By framework slug, then age."""
        return sorted(self.versions.values(), key=lambda version: version.order)


# Request paths of single-object reads, by the operation that answers them.
_OPERATIONS_BY_PREFIX = {
    **{f"{CASE_PATH}/{operation}/": operation for operation in _SINGULAR if operation != RESOLVER},
    **{f"{CASE_V1P0_PATH}/{operation}/": V1P0 + operation for operation in V1P0_OPERATIONS},
    f"{RESOLVER_PATH}/": RESOLVER,
}


def single_read(path: str) -> tuple[str, str] | None:
    """(operation, identifier) when ``path`` reads one object by a lower-case UUID."""
    prefix, slash, identifier = path.rpartition("/")
    operation = _OPERATIONS_BY_PREFIX.get(prefix + slash)
    if operation is None or len(identifier) != 36:
        return None
    try:
        if str(uuid.UUID(identifier)) != identifier:
            return None
    except ValueError:
        return None
    return operation, identifier


def _index_of(request: Request) -> ProviderIndex:
    return index_of(request.app.state)


def index_of(state: Any) -> ProviderIndex:
    """The process's index, kept on ``app.state``."""
    index: ProviderIndex | None = getattr(state, "case_index", None)
    if index is None:
        index = state.case_index = ProviderIndex(state.settings.framework_cache_seconds)
    return index


CaseIndex = Annotated[ProviderIndex, Depends(_index_of)]


def as_identifier(sourced_id: str) -> str:
    """``sourced_id`` as a lower-case UUID; anything else is the binding's 404 ``invalid_uuid``."""
    try:
        return str(uuid.UUID(sourced_id))
    except ValueError as exc:
        raise NotFound(f"{sourced_id!r} is not a UUID.", imsx_code_minor="invalid_uuid") from exc


async def served(
    index: ProviderIndex, session: AsyncSession, operation: str, sourced_id: str, *, base_url: str
) -> Served:
    """The encoded answer of ``operation`` (a collection of the binding, or ``uri``) for
    ``sourced_id``; a package's identifier is its CFDocument's. Unknown: 404 ``unknownobject``."""
    identifier = as_identifier(sourced_id)
    await index.refresh(session, base_url)
    version_id = index.by_identifier.get(identifier)
    if version_id is not None:
        answer = index.versions[version_id].served(operation, identifier)
        if answer is not None:
            return answer
    what = _SINGULAR[operation.removeprefix(V1P0)]
    raise NotFound(f"No {what} {identifier}.", imsx_code_minor="unknownobject")


async def cf_documents(index: ProviderIndex, session: AsyncSession, *, base_url: str) -> list[Json]:
    """The CFDocument of every public version, as the binding serves it alone."""
    await index.refresh(session, base_url)
    return [version.document for version in index.ordered()]
