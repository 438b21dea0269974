"""The ``eddsa-rdfc-2022`` signer reproduces the W3C's own test vector byte for byte (Ed25519
signatures are deterministic): canonicalization, hashing order and proof serialization are the
specification's, not merely self-consistent. Vector files: ``vectors/README.md``."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.certificates import data_integrity
from app.certificates.data_integrity import UnknownContext, add_proof
from app.certificates.keys import SigningKey

VECTORS = Path(__file__).parent / "vectors"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
EXAMPLES_CONTEXT = "https://www.w3.org/ns/credentials/examples/v2"


def base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + BASE58.index(char)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def vector_key() -> SigningKey:
    secret = json.loads((VECTORS / "keyPair.json").read_text())["privateKeyMultibase"]
    raw = base58_decode(secret.removeprefix("z"))
    assert raw[:2] == b"\x80\x26"  # multicodec ed25519-priv
    return SigningKey(Ed25519PrivateKey.from_private_bytes(raw[2:]), base_url="https://vc.example")


@pytest.fixture
def with_examples_context(monkeypatch: pytest.MonkeyPatch) -> None:
    examples = json.loads((VECTORS / "credentials-examples-v2.json").read_text())
    bundled = data_integrity.load_document

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        if url == EXAMPLES_CONTEXT:
            return {"contextUrl": None, "documentUrl": url, "document": examples}
        return bundled(url, options)

    monkeypatch.setattr(data_integrity, "load_document", loader)


def test_the_signer_reproduces_the_w3c_eddsa_rdfc_2022_vector(with_examples_context: None) -> None:
    signed = json.loads((VECTORS / "eddsa-rdfc-2022-signedDataInt.json").read_text())
    expected = signed.pop("proof")

    ours = add_proof(
        signed,
        vector_key(),
        created=datetime.fromisoformat(expected["created"]),
        verification_method=expected["verificationMethod"],
    )

    assert ours["proof"] == [expected]


def test_a_context_that_is_not_bundled_is_refused_not_fetched() -> None:
    signed = json.loads((VECTORS / "eddsa-rdfc-2022-signedDataInt.json").read_text())
    del signed["proof"]

    with pytest.raises(Exception) as raised:
        add_proof(signed, vector_key(), created=datetime.fromisoformat("2023-02-24T23:36:38Z"))
    chain: BaseException | None = raised.value
    while chain is not None and not isinstance(chain, UnknownContext):
        chain = chain.__cause__ or chain.__context__
    assert isinstance(chain, UnknownContext)
