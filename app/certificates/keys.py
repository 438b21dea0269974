"""The issuer's Ed25519 signing keys: the current one, and those retired by a rotation.

Where they live (one directory, back it up whole): the current key is the PEM file
``CPRO_SIGNING_KEY_FILE`` (default ``<CPRO_DATA_DIR>/keys/credentials-ed25519.pem``); a rotation
moves it to ``retired/<thumbprint>.pem`` beside it, with ``retired/<thumbprint>.json`` saying
when, and writes a new current key. Retired keys never sign a new credential, but their public
keys stay published (JWKS, issuer Profile) so that credentials signed before still verify, and
each one still signs the status lists that its own credentials point at: verifiers such as
openbadgeslib check a status list with the key that verified the credential.
"""

import base64
import binascii
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from app.certificates.urls import ISSUER_PATH, JWKS_PATH, check_base_url

ALGORITHM = "EdDSA"
RETIRED_DIRECTORY = "retired"
# Multicodec "ed25519-pub" (0xed, as an unsigned varint), the prefix of a Multikey's
# publicKeyMultibase (W3C Controlled Identifiers 1.0, section 2.2.2).
_ED25519_PUB_MULTICODEC = b"\xed\x01"
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding; ``ValueError`` otherwise."""
    if len(segment) % 4 == 1 or not set(segment) <= B64URL_ALPHABET:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def base58btc(data: bytes) -> str:
    """Bitcoin base58 (the multibase ``z`` alphabet): leading zero bytes become ``1``."""
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = _BASE58_ALPHABET[remainder] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


class SigningKey:
    """One Ed25519 key of the issuer, named by URLs under the service.

    ``kid`` (JWT) is ``{base_url}/.well-known/jwks.json#{RFC 7638 thumbprint}``: OB 3.0 8.2 wants
    a ``kid`` that is a URI dereferencing to the JWK, and the same string is the ``kid`` of the
    key in the JWKS. ``verification_method`` (Data Integrity) is
    ``{base_url}/v1/issuer#{thumbprint}``: the Multikey listed in the issuer Profile.
    """

    def __init__(self, private_key: Ed25519PrivateKey, *, base_url: str) -> None:
        check_base_url(base_url)
        self._private_key = private_key
        self.base_url = base_url

    @classmethod
    def generate(cls, *, base_url: str) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate(), base_url=base_url)

    @classmethod
    def from_pem(cls, pem: bytes, *, base_url: str) -> "SigningKey":
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError("the PEM does not hold an Ed25519 private key")
        return cls(private_key, base_url=base_url)

    @classmethod
    def load(cls, path: Path, *, base_url: str) -> "SigningKey":
        return cls.from_pem(path.read_bytes(), base_url=base_url)

    def to_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def save(self, path: Path) -> None:
        """Write the private key as PKCS#8 PEM, mode 0600; never overwrites an existing file."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = _write_private(path.parent, self.to_pem())
        try:
            # link() publishes the file whole, or fails if the path exists: a concurrent reader
            # never sees half a key and a racing writer never wins twice.
            os.link(temporary, path)
        finally:
            os.unlink(temporary)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private_key.public_key()

    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256) of the public key."""
        required = {"crv": "Ed25519", "kty": "OKP", "x": b64url(self.public_bytes())}
        canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode("ascii")
        return b64url(hashlib.sha256(canonical).digest())

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def kid(self) -> str:
        return f"{self.jwks_url}#{self.thumbprint}"

    @property
    def verification_method(self) -> str:
        return f"{self.base_url}{ISSUER_PATH}#{self.thumbprint}"

    @property
    def public_key_multibase(self) -> str:
        return "z" + base58btc(_ED25519_PUB_MULTICODEC + self.public_bytes())

    def public_jwk(self) -> dict[str, str]:
        """The public key as an RFC 8037 JWK. 8.2: the JWK "MUST never contain 'd'"."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_bytes()),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """A JWK Set with this key alone."""
        return {"keys": [self.public_jwk()]}

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


@dataclass(frozen=True)
class RetiredKey:
    key: SigningKey
    retired_at: datetime


@dataclass(frozen=True)
class Keyring:
    """The key that signs new credentials and the retired ones still published."""

    current: SigningKey
    retired: tuple[RetiredKey, ...] = ()

    def find(self, thumbprint: str) -> SigningKey | None:
        for key in (self.current, *(r.key for r in self.retired)):
            if key.thumbprint == thumbprint:
                return key
        return None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to serve at ``JWKS_PATH``: the current key first, marked ``status``
        ``current``; each retired key marked ``retired`` with ``retiredAt``: it verifies the
        credentials it signed, and signs no new one."""
        keys = [self.current.public_jwk() | {"status": "current"}]
        keys += [
            r.key.public_jwk() | {"status": "retired", "retiredAt": _timestamp(r.retired_at)}
            for r in self.retired
        ]
        return {"keys": keys}

    def verification_methods(self, controller: str) -> list[dict[str, str]]:
        """The keys as Multikey verification methods (for the issuer Profile), marked alike."""
        methods = [_multikey(self.current, controller) | {"status": "current"}]
        methods += [
            _multikey(r.key, controller)
            | {"status": "retired", "retiredAt": _timestamp(r.retired_at)}
            for r in self.retired
        ]
        return methods


def _multikey(key: SigningKey, controller: str) -> dict[str, str]:
    return {
        "id": key.verification_method,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": key.public_key_multibase,
    }


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _write_private(directory: Path, content: bytes) -> str:
    """A new 0600 file in ``directory`` with ``content``, synced; returns its path."""
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".key-")
    with os.fdopen(fd, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    return temporary


def load_or_create_signing_key(path: Path, *, base_url: str) -> SigningKey:
    """Load the current key from ``path``, creating it (and its directory) on first use."""
    try:
        return SigningKey.load(path, base_url=base_url)
    except FileNotFoundError:
        pass
    key = SigningKey.generate(base_url=base_url)
    try:
        key.save(path)
    except FileExistsError:
        # Another worker created it first; every worker must sign with the same key.
        return SigningKey.load(path, base_url=base_url)
    return key


def load_keyring(path: Path, *, base_url: str) -> Keyring:
    """The current key at ``path`` (created on first use) and the retired keys beside it."""
    current = load_or_create_signing_key(path, base_url=base_url)
    retired: list[RetiredKey] = []
    directory = path.parent / RETIRED_DIRECTORY
    for pem in sorted(directory.glob("*.pem")) if directory.is_dir() else ():
        key = SigningKey.load(pem, base_url=base_url)
        if key.thumbprint == current.thumbprint:
            continue  # read mid-rotation: the old key is retired but still the current file
        meta = json.loads(pem.with_suffix(".json").read_text())
        retired.append(RetiredKey(key, datetime.fromisoformat(meta["retired_at"])))
    retired.sort(key=lambda r: r.retired_at, reverse=True)
    return Keyring(current, tuple(retired))


def keyring_stamp(path: Path) -> tuple[int, ...]:
    """Changes whenever a rotation does: lets every process notice one without a restart."""
    stamp: list[int] = []
    for target in (path, path.parent / RETIRED_DIRECTORY):
        try:
            status = target.stat()
        except FileNotFoundError:
            stamp += [0, 0]
        else:
            stamp += [status.st_ino, status.st_mtime_ns]
    return tuple(stamp)


def rotate_signing_key(
    path: Path, *, base_url: str, now: datetime
) -> tuple[SigningKey, SigningKey]:
    """Retire the current key (kept, published, no longer signing new credentials) and make a
    new current key; returns ``(retired, new)``. With no key yet, one is made first."""
    old = load_or_create_signing_key(path, base_url=base_url)
    directory = path.parent / RETIRED_DIRECTORY
    directory.mkdir(mode=0o700, exist_ok=True)
    # The retirement record is written before the key it describes becomes visible, and the old
    # key is in place under retired/ before the current file changes: no moment exists at which
    # a reader finds a key missing.
    meta = directory / f"{old.thumbprint}.json"
    meta_temporary = _write_private(directory, json.dumps({"retired_at": now.isoformat()}).encode())
    os.replace(meta_temporary, meta)
    retired_pem = directory / f"{old.thumbprint}.pem"
    if not retired_pem.exists():
        old.save(retired_pem)
    new = SigningKey.generate(base_url=base_url)
    os.replace(_write_private(path.parent, new.to_pem()), path)
    return old, new
