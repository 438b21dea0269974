"""An https delivery goes to the checked address but is verified for the subscribed name: a real
TLS receiver on 127.0.0.1 with a certificate for `hook.test` only, issued by a test CA that the
sending client trusts."""

import asyncio
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.integrations.webhooks import PinnedTarget
from app.integrations.worker import post_pinned
from tests.integrations.receiver import receiver

NAME = "hook.test"


def _certificate_authority_and_server(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(a client context trusting a fresh CA, a server context with a certificate for NAME)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cpro test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    client = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(tmp / "server.pem"))
    return client, server


async def test_https_delivery_connects_to_the_address_and_verifies_the_name(
    tmp_path: Path,
) -> None:
    trusting, serving = _certificate_authority_and_server(tmp_path)
    with receiver(tls=serving) as hook:
        port = int(hook.url.split(":")[2].split("/")[0])
        async with httpx.AsyncClient(
            verify=trusting, limits=httpx.Limits(max_keepalive_connections=0)
        ) as client:
            pinned = PinnedTarget(
                urls=[f"https://127.0.0.1:{port}/hook"],
                host=f"{NAME}:{port}",
                sni_hostname=NAME,
            )
            response = await post_pinned(client, pinned, b"{}", {"webhook-id": "msg_1"})
            assert response.status_code == 204
            received = await asyncio.to_thread(hook.wait_for, 1)
            assert received[0].headers["host"] == f"{NAME}:{port}"

            # The same address, a name its certificate does not carry: refused by TLS.
            impostor = PinnedTarget(
                urls=pinned.urls, host=f"other.test:{port}", sni_hostname="other.test"
            )
            with pytest.raises(httpx.ConnectError):
                await post_pinned(client, impostor, b"{}", {"webhook-id": "msg_2"})
    assert len(hook.received) == 1
