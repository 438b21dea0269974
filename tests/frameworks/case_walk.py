"""A CASE consumer's walk over the provider, as CaSS's harvester or OpenCASE would do it.

List ``CFDocuments``, follow each ``CFPackageURI.uri``, ask ``CFItemAssociations`` for every item
of each package, then dereference every ``uri`` anything returned carries, and every ``uri`` those
carry, until nothing new turns up. Each answer is checked against the official schema of the
path it came from; a link (``title``, ``identifier``, ``uri``) must lead to the object it names.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from httpx import AsyncClient

from tests.frameworks.case_official import BINDING, RUBRIC_PARTS, problems, schema_of

RESOLVER = "/ims/case/uri/"


@dataclass
class Walk:
    root: str
    bodies: dict[str, Any] = field(default_factory=dict)  # uri -> JSON answer
    dangling: list[str] = field(default_factory=list)  # uris that did not answer 200 JSON
    invalid: list[str] = field(default_factory=list)  # schema failures, wrong targets
    schemas_seen: set[str] = field(default_factory=set)
    item_association_sets: int = 0


def links(value: Any, container: str = "") -> Iterator[tuple[str, str, str | None]]:
    """Every ``uri`` in ``value``: (uri, the list or key holding it, the identifier it names)."""
    if isinstance(value, dict):
        uri = value.get("uri")
        if isinstance(uri, str):
            yield uri, container, value.get("identifier")
        for key, child in value.items():
            yield from links(child, key if isinstance(child, (dict, list)) else container)
    elif isinstance(value, list):
        for child in value:
            yield from links(child, container)


def _identifier_of(body: Any) -> str | None:
    """The identifier of the object an answer is about (the first of a set, a package's
    document, an item association set's item)."""
    if not isinstance(body, dict):
        return None
    if "identifier" in body:
        return str(body["identifier"])
    for key in ("CFDocument", "CFItem"):
        if key in body:
            return str(body[key]["identifier"])
    for value in body.values():
        if isinstance(value, list) and value:
            return str(value[0]["identifier"])
    return None


class Consumer:
    def __init__(self, client: AsyncClient, root: str) -> None:
        self.client = client
        self.walk = Walk(root.rstrip("/"))

    def _path(self, uri: str) -> str | None:
        if not uri.startswith(self.walk.root + "/"):
            return None
        return urlsplit(uri).path

    async def get(self, uri: str, schema: str | None = None) -> Any | None:
        """Dereference ``uri`` once; check its answer against ``schema`` (or its path's)."""
        if uri in self.walk.bodies:
            return self.walk.bodies[uri]
        path = self._path(uri)
        if path is None:
            self.walk.dangling.append(f"{uri} (outside this provider)")
            return None
        query = urlsplit(uri).query
        response = await self.client.get(path + (f"?{query}" if query else ""))
        if response.status_code != 200 or not response.headers["content-type"].startswith(
            "application/json"
        ):
            self.walk.dangling.append(f"{uri} -> {response.status_code}")
            return None
        body = response.json()
        self.walk.bodies[uri] = body
        schema = schema or schema_of(path)
        if schema is None:
            self.walk.invalid.append(f"{uri}: no official schema for this path")
        else:
            self.walk.schemas_seen.add(schema)
            self.walk.invalid.extend(f"{uri}: {p}" for p in problems(schema, body))
        return body

    async def follow(self, start: list[Any]) -> None:
        """Dereference every uri reachable from ``start``."""
        queue = deque(start)
        while queue:
            body = queue.popleft()
            for uri, container, identifier in links(body):
                if uri in self.walk.bodies:
                    continue
                path = self._path(uri) or ""
                schema = RUBRIC_PARTS.get(container) if path.startswith(RESOLVER) else None
                if path.startswith(RESOLVER) and schema is None:
                    self.walk.invalid.append(f"{uri}: a resolver uri outside a rubric")
                target = await self.get(uri, schema)
                if target is None:
                    continue
                if identifier is not None and _identifier_of(target) != identifier:
                    self.walk.invalid.append(f"{uri} names {identifier}, answers another object")
                queue.append(target)

    async def run(self, only: set[str] | None = None) -> Walk:
        """The whole walk; ``only`` restricts it to those CFDocument identifiers."""
        listing = await self.get(f"{self.walk.root}{BINDING}/CFDocuments?limit=1000")
        assert listing is not None, self.walk.dangling
        documents = [d for d in listing["CFDocuments"] if only is None or d["identifier"] in only]
        assert documents, "no CFDocuments to walk"
        start: list[Any] = []
        for document in documents:
            self.walk.invalid.extend(problems("CFDocumentDType", document))
            package = await self.get(document["CFPackageURI"]["uri"])
            if package is None:
                continue
            start.append(package)
            for item in package.get("CFItems", []):
                uri = f"{self.walk.root}{BINDING}/CFItemAssociations/{item['identifier']}"
                answer = await self.get(uri)
                if answer is None:
                    continue
                self.walk.item_association_sets += 1
                expected = sorted(
                    a["identifier"]
                    for a in package["CFAssociations"]
                    if item["identifier"]
                    in (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
                )
                got = sorted(a["identifier"] for a in answer["CFAssociations"])
                if got != expected or answer["CFItem"]["identifier"] != item["identifier"]:
                    self.walk.invalid.append(f"{uri}: not the item and its associations")
                start.append(answer)
        await self.follow([*documents, *start])
        return self.walk
