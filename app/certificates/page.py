"""The verification page a person sees: one self-contained HTML document per certificate.

No script and no external asset: the style sheet is inline (with a print style sheet that
makes the page the printable certificate), the QR code of the page's own URL and the seal are
inline SVG. ``CONTENT_SECURITY_POLICY`` says so to the browser: it blocks anything else.
"""

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

import segno

from app.certificates import badge

_STYLE = """
:root { color-scheme: light; --ink: #1b1f24; --blue: #0b3d91; --gold: #c9a227; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.5 Georgia, "Times New Roman", serif; color: var(--ink);
  background: #eef1f6; }
main { max-width: 46rem; margin: 1.5rem auto; padding: 1.5rem; background: #fff;
  border: 3px double var(--blue); }
header { text-align: center; }
.seal svg { width: 7rem; height: 7rem; }
h1 { font-size: 1.6rem; margin: .4rem 0; color: var(--blue); }
.holder { font-size: 1.5rem; font-style: italic; margin: .5rem 0 1rem; }
.status { padding: .75rem 1rem; border-radius: .4rem; font-weight: bold; margin: 1rem 0; }
.status.valid { background: #e5f4ea; color: #14532d; border: 1px solid #6bbf86; }
.status.revoked { background: #fdeaea; color: #7f1d1d; border: 1px solid #e08a8a; }
.status.unknown { background: #f2f2f2; color: #333; border: 1px solid #bbb; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 1rem 0; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
ol { margin: .3rem 0 1rem; padding-left: 1.4rem; }
.verify { display: flex; gap: 1.25rem; align-items: center; flex-wrap: wrap;
  border-top: 1px solid #ccd; padding-top: 1rem; margin-top: 1rem; }
.qr svg { width: 9rem; height: 9rem; display: block; }
.downloads a { color: var(--blue); }
.url { font-size: .85rem; overflow-wrap: anywhere; }
@media (max-width: 30rem) {
  main { margin: 0; border-width: 0; padding: 1rem; }
  dl { grid-template-columns: 1fr; } dt { margin-top: .4rem; }
}
@media print {
  @page { size: A4 portrait; margin: 14mm; }
  body { background: #fff; font-size: 12pt; }
  main { max-width: none; margin: 0; border: 6px double var(--blue); padding: 12mm; }
  .downloads { display: none; }
  .status { border: 1px solid #000; }
  a { color: inherit; text-decoration: none; }
}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class PageFacts:
    serial: str
    page_url: str
    holder_name: str
    title: str
    issuer: str
    issued_on: date
    competencies: tuple[str, ...]
    revoked_at: datetime | None
    revocation_reason: str | None
    credential_url: str
    badge_url: str


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _qr(url: str) -> str:
    return str(
        segno.make(url, error="m").svg_inline(
            scale=1, border=4, omitsize=True, title=f"QR code of {url}"
        )
    )


def certificate_page(facts: PageFacts) -> str:
    """The page for one certificate, valid or revoked."""
    if facts.revoked_at is None:
        status = '<p class="status valid">Valid: this certificate was issued by the issuer below and has not been revoked.</p>'
    else:
        reason = f" Reason: {escape(facts.revocation_reason)}" if facts.revocation_reason else ""
        status = (
            '<p class="status revoked">Revoked on '
            f"{_long_date(facts.revoked_at.date())}: this certificate is no longer valid.{reason}</p>"
        )
    competencies = "".join(f"<li>{escape(name)}</li>" for name in facts.competencies)
    downloads = (
        '<p class="downloads">'
        f'<a href="{escape(facts.credential_url)}" download>Download the signed credential</a>'
        " (Open Badges 3.0, VC-JWT)"
        f' · <a href="{escape(facts.badge_url)}" download>Download the badge image</a></p>'
        if facts.revoked_at is None
        else ""
    )
    body = (
        f'<header><div class="seal" aria-hidden="true">{badge.achievement_image()}</div>'
        f"<p>{escape(facts.issuer)} certifies that</p>"
        f'<p class="holder">{escape(facts.holder_name)}</p>'
        f"<p>has been conferred the</p><h1>{escape(facts.title)}</h1></header>"
        f"{status}"
        "<dl>"
        f"<dt>Holder</dt><dd>{escape(facts.holder_name)}</dd>"
        f"<dt>Certificate</dt><dd>{escape(facts.title)}</dd>"
        f'<dt>Issued on</dt><dd><time datetime="{facts.issued_on.isoformat()}">'
        f"{_long_date(facts.issued_on)}</time></dd>"
        f"<dt>Issuer</dt><dd>{escape(facts.issuer)}</dd>"
        f"<dt>Serial</dt><dd>{escape(facts.serial)}</dd>"
        "</dl>"
        "<h2>The five leadership competencies assessed</h2>"
        f"<ol>{competencies}</ol>"
        f'<section class="verify"><div class="qr">{_qr(facts.page_url)}</div>'
        "<div><p>Scan or open this address to check the certificate at any time:</p>"
        f'<p class="url">{escape(facts.page_url)}</p>{downloads}</div></section>'
    )
    return _document(f"{facts.title}: {facts.holder_name}", body)


def not_found_page(serial: str) -> str:
    body = (
        '<header><h1>No such certificate</h1></header><p class="status unknown">'
        f"No certificate has the serial {escape(serial)}. Check the serial on the printed "
        "certificate, or ask the holder for the link.</p>"
    )
    return _document("No such certificate", body)
