"""1EdTech CASE 1.1: a framework version as a CFPackage and back, and the REST binding's reads.

- ``vocabulary``: identifiers, paths and item types shared by every part.
- ``writer``: a version as a CFPackage (the mapping is described there).
- ``reader``: a CFPackage back into a version (imports).
- ``provider``: the binding's objects of published and retired versions, by identifier, as
  bytes and ETags built once per version and process.
- ``query``: the ``GET /CFDocuments`` parameters (limit, offset, sort, orderBy, filter, fields).
- ``router``: the routes; ``discovery``: the official OpenAPI document for this provider.
"""

from app.frameworks.case.reader import read_package, text_problems
from app.frameworks.case.vocabulary import (
    CASE_NAMESPACE,
    CASE_PATH,
    INCOMPLETE_NOTE,
    case_identifier,
    competency_item_uri,
)
from app.frameworks.case.writer import cf_document, objects, package

__all__ = [
    "CASE_NAMESPACE",
    "CASE_PATH",
    "INCOMPLETE_NOTE",
    "case_identifier",
    "cf_document",
    "competency_item_uri",
    "objects",
    "package",
    "read_package",
    "text_problems",
]
