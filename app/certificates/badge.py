"""The certificate's badge image (SVG), plain or baked with the signed credential.

Baking follows Open Badges 3.0 section 5.3.2 "SVG" ("Baking"): an ``xmlns:openbadges``
attribute ``https://purl.imsglobal.org/ob/v3p0`` on the ``<svg>`` tag and, directly after it,
one ``<openbadges:credential>`` whose ``verify`` attribute is the VC-JWT. The image uses no
external asset (no font, no link): it renders the same anywhere.
"""

import base64
from datetime import date
from xml.sax.saxutils import escape, quoteattr

OPENBADGES_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_MEDIA_TYPE = "image/svg+xml"

_TITLE_LINES = ("Certificate in", "Leadership and", "Management")


def _design(holder_name: str | None, issued_on: date | None) -> str:
    lines = "".join(
        f'<text x="200" y="{168 + 30 * i}" font-size="24" font-weight="700">{escape(line)}</text>'
        for i, line in enumerate(_TITLE_LINES)
    )
    holder = ""
    if holder_name:
        holder = (
            f'<text x="200" y="284" font-size="17" font-style="italic">{escape(holder_name)}</text>'
        )
    issued = ""
    if issued_on:
        issued = f'<text x="200" y="306" font-size="13">{issued_on.isoformat()}</text>'
    return (
        "<title>CPro Certificate in Leadership and Management</title>"
        '<circle cx="200" cy="200" r="192" fill="#0b3d91"/>'
        '<circle cx="200" cy="200" r="176" fill="#ffffff"/>'
        '<circle cx="200" cy="200" r="168" fill="none" stroke="#c9a227" stroke-width="6"/>'
        '<g font-family="Georgia, \'Times New Roman\', serif" text-anchor="middle" fill="#0b3d91">'
        '<text x="200" y="96" font-size="15" letter-spacing="2">CIVIL SERVICE COMMISSION</text>'
        '<text x="200" y="132" font-size="34" font-weight="700" fill="#c9a227">CPro</text>'
        f"{lines}{holder}{issued}"
        '<text x="200" y="340" font-size="12" letter-spacing="1">REPUBLIC OF THE PHILIPPINES</text>'
        "</g>"
    )


def achievement_image() -> str:
    """The achievement's image (no holder) as an SVG document."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" width="400" height="400">'
        f"{_design(None, None)}</svg>"
    )


def achievement_image_data_uri() -> str:
    """The achievement's image as a ``data:`` URI (B.1.13 Image ``id``: "URI or Data URI")."""
    encoded = base64.b64encode(achievement_image().encode("utf-8")).decode("ascii")
    return f"data:{SVG_MEDIA_TYPE};base64,{encoded}"


def baked_badge(token: str, *, holder_name: str, issued_on: date) -> str:
    """The badge of one certificate with its VC-JWT baked in."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OPENBADGES_NAMESPACE}" '
        'viewBox="0 0 400 400" width="400" height="400">'
        f"<openbadges:credential verify={quoteattr(token)}></openbadges:credential>"
        f"{_design(holder_name, issued_on)}</svg>\n"
    )
