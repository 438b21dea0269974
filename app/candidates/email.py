"""E-mail addresses accepted and normalized exactly as pydantic's ``EmailStr`` does, faster.

``EmailStr`` runs email-validator's pure-Python checks on every address: in an HRIS batch of a
thousand candidates that was about two fifths of the request (``bench/results/profiles``). Almost
every address there is a plain ASCII ``local@domain`` and most share a few agency domains, so
the domain is checked by email-validator once per distinct domain (and remembered), the local
part against the RFC 5322 dot-atom that email-validator applies to it, and anything else
(quoted or non-ASCII local parts, display names, stray spaces, long addresses) goes through
``EmailStr``'s own validation, errors included. ``tests/candidates/test_email.py`` holds the
two to the same answers.
"""

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from pydantic import EmailStr
from pydantic.networks import validate_email as pydantic_validate_email

# RFC 5322 atext, as email-validator's DOT_ATOM_TEXT (no leading, trailing or doubled dots).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# Well below email-validator's limits (64 for the local part, 254 for the address).
_FAST_LOCAL_MAX = 64
_FAST_ADDRESS_MAX = 200


@lru_cache(maxsize=1024)
def _normalized_domain(domain: str) -> str | None:
    """The domain as email-validator normalizes it, or None when it refuses it."""
    try:
        return validate_email("a@" + domain, check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalized_email(value: str) -> str:
    """``value`` as ``EmailStr`` would give it; raises ``EmailStr``'s error when it would."""
    if len(value) <= _FAST_ADDRESS_MAX and value.isascii():
        local, at, domain = value.rpartition("@")
        if (
            at
            and len(local) <= _FAST_LOCAL_MAX
            and _DOT_ATOM.fullmatch(local)
            and _DOT_ATOM.fullmatch(domain)
        ):
            normalized = _normalized_domain(domain)
            if normalized is not None:
                return local + "@" + normalized
    return pydantic_validate_email(value)[1]


class Email(EmailStr):
    """``EmailStr`` (same schema, same answers), validated by ``normalized_email``."""

    @classmethod
    def _validate(cls, input_value: str, /) -> str:
        return normalized_email(input_value)
