"""Choosing a representation from the ``Accept`` header (RFC 9110, section 12.5.1)."""

from app.core.errors import ProblemError


class NotAcceptable(ProblemError):
    status, slug, title = 406, "not-acceptable", "Not acceptable"


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(",")[:50]:
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """The quality the most specific matching range gives ``offer``; 0 when none matches."""
    kind = offer.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media, quality in ranges:
        if media == offer:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, quality)
    return best[1]


def choose(accept: str | None, offers: tuple[str, ...]) -> str:
    """The offer the caller prefers; the first offer when there is no ``Accept`` or a tie.

    ``NotAcceptable`` when the header excludes every offer.
    """
    if not accept or not accept.strip():
        return offers[0]
    ranges = _ranges(accept)
    scored = [(_quality(offer, ranges), -position, offer) for position, offer in enumerate(offers)]
    quality, _, offer = max(scored)
    if quality <= 0:
        raise NotAcceptable(f"This resource is available as {', '.join(offers)}.")
    return offer
