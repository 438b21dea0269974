"""A credential secured with a W3C Data Integrity proof, cryptosuite ``eddsa-rdfc-2022``.

Sources: W3C "Data Integrity EdDSA Cryptosuites v1.0" (Recommendation), section 3.3
``eddsa-rdfc-2022``: 3.3.1 Create Proof, 3.3.4 Transformation (RDF Dataset Canonicalization,
RDFC-1.0), 3.3.5 Hashing (SHA-256 of the canonical proof configuration, then of the canonical
document, concatenated), 3.3.6 Proof Configuration (the document's ``@context`` is the
configuration's), 3.3.7 Proof Serialization (Ed25519 over the hash; ``proofValue`` multibase
base58btc). OB 3.0 section 8.3 "Linked Data Proof Format": ``proofPurpose`` ``assertionMethod``.

PyLD's ``URDNA2015`` is RDFC-1.0 under its earlier name (the W3C renamed it without changing
the output). Contexts are read from ``contexts/`` and never fetched.
"""

import hashlib
import json
import threading
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

from app.certificates.keys import SigningKey, base58btc

CRYPTOSUITE = "eddsa-rdfc-2022"
# Every context a credential of ours names, and where its bundled copy is (see contexts/README.md).
BUNDLED_CONTEXTS = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
}
# PyLD keeps module-level caches; canonicalizations are serialized so that threads running
# them (the routes call this from a thread pool) never share one mid-update.
_CANONICALIZE = threading.Lock()


class UnknownContext(ValueError):
    """A document names a JSON-LD context that is not bundled; nothing is fetched."""


@cache
def _context(url: str) -> dict[str, Any]:
    name = BUNDLED_CONTEXTS.get(url)
    if name is None:
        raise UnknownContext(f"JSON-LD context {url!r} is not bundled")
    text = resources.files("app.certificates").joinpath("contexts", name).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """A PyLD document loader that serves the bundled contexts and refuses every other URL."""
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}


def canonicalize(document: dict[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document."""
    with _CANONICALIZE:
        nquads: str = jsonld.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": load_document,
            },
        )
    return nquads


def _hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    return (
        hashlib.sha256(canonicalize(proof_config).encode("utf-8")).digest()
        + hashlib.sha256(canonicalize(document).encode("utf-8")).digest()
    )


def add_proof(
    credential: dict[str, Any],
    key: SigningKey,
    *,
    created: datetime,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """The credential with an ``eddsa-rdfc-2022`` ``DataIntegrityProof`` by ``key``, named by
    ``verification_method`` (by default the key's Multikey in the issuer Profile).

    ``proof`` is an array: OB 3.0's AchievementCredential JSON Schema types it so.
    """
    if "proof" in credential:
        raise ValueError("the credential already has a proof")
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "verificationMethod": verification_method or key.verification_method,
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_hash_data(credential, {"@context": credential["@context"], **options}))
    return {**credential, "proof": [{**options, "proofValue": "z" + base58btc(signature)}]}
