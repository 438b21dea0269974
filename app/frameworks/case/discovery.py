"""CASE service discovery: 1EdTech's CASE 1.1 OpenAPI document, with this provider as server.

The document is 1EdTech's own (``openapi/README.md`` names its source and licence); only its
``servers`` entry changes, which the document itself says must name the actual provider.
"""

import json
from functools import lru_cache
from pathlib import Path

from app.frameworks.case.provider import Served, encode
from app.frameworks.case.vocabulary import CASE_PATH

DOCUMENT_PATH = Path(__file__).parent / "openapi" / "imscasev1p1_openapi3_v1p0.json"
DISCOVERY_FILE = "imscasev1p1_openapi3_v1p0.json"


@lru_cache(maxsize=4)
def discovery_document(public_root: str) -> Served:
    """The official document whose one server is ``public_root`` + the binding's base path."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    document["servers"] = [
        {
            "url": f"{public_root.rstrip('/')}{CASE_PATH}",
            "description": "This CASE 1.1 provider (read-only; no key needed).",
        }
    ]
    return encode(document)
