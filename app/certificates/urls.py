"""Where the service publishes what a credential's ids point at (the routes serve these)."""

from urllib.parse import urlsplit

CERTIFICATE_PATH = "/v1/certificates/{serial}"
CREDENTIAL_PATH = "/v1/certificates/{serial}/credential"
BADGE_PATH = "/v1/certificates/{serial}/badge.svg"
ISSUER_PATH = "/v1/issuer"
ACHIEVEMENT_SLUG = "certificate-in-leadership-and-management"
ACHIEVEMENT_PATH = f"/v1/achievements/{ACHIEVEMENT_SLUG}"
STATUS_LIST_PATH = "/v1/status-lists/{list_id}"
JWKS_PATH = "/.well-known/jwks.json"


def check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or base_url.endswith("/")
    ):
        raise ValueError(
            f"base_url must be an absolute http(s) URL without a trailing slash: {base_url!r}"
        )
