"""Portal tokens (a candidate's, signed by a test identity provider) for the progress and acceptance notice tests."""

from tests.auth.test_tokens import (  # noqa: F401 - fixtures
    ec_key,
    ed_key,
    rsa_key,
    sign,
    token_client,
    token_settings,
)
