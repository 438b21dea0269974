"""A document's type comes from its own bytes: real files of the four kinds pass, impostors
(an executable or a script named .pdf, a ZIP that is not a DOCX) do not."""

import pytest

from app.portfolios.sniffing import WINDOW, DocumentType, Sniffer
from tests.portfolios import files


def sniff(data: bytes, piece: int = 65536) -> DocumentType | None:
    sniffer = Sniffer()
    for start in range(0, len(data), piece):
        sniffer.feed(data[start : start + piece])
    return sniffer.verdict()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.pdf_bytes(), DocumentType.pdf),
        (files.image_bytes("PNG"), DocumentType.png),
        (files.image_bytes("JPEG"), DocumentType.jpeg),
        (files.docx_bytes(), DocumentType.docx),
    ],
    ids=["pdf", "png", "jpeg", "docx"],
)
def test_real_files_are_recognised_whatever_the_chunking(data: bytes, kind: DocumentType) -> None:
    assert sniff(data) is kind
    assert sniff(data, piece=7) is kind


@pytest.mark.parametrize(
    "data",
    [
        files.elf_bytes(),
        files.script_bytes(),
        files.plain_zip_bytes({"word/document.xml": b"<w:document/>"}),
        files.plain_zip_bytes({"[Content_Types].xml": b"<Types/>", "word/x.xml": b"<x/>"}),
        files.docm_bytes(),
        b"PK\x03\x04 not really a zip at all",
        b"%PD",
    ],
    ids=[
        "elf",
        "script",
        "zip-without-content-types",
        "zip-not-word",
        "docm",
        "broken-zip",
        "short",
    ],
)
def test_impostors_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_the_first_bytes_already_rule_out_an_executable() -> None:
    sniffer = Sniffer()
    sniffer.feed(files.elf_bytes()[:16])
    assert sniffer.early_verdict() is False
    pdf = Sniffer()
    pdf.feed(files.pdf_bytes()[:16])
    assert pdf.early_verdict() is True


def test_a_large_docx_is_checked_from_its_first_and_last_bytes_only() -> None:
    """A DOCX with megabytes of image in the middle: the sniffer keeps two windows, yet the
    archive's directory (at the end) and [Content_Types].xml (at the start) are enough."""
    import io

    import docx
    from PIL import Image

    document = docx.Document()
    picture = io.BytesIO()
    Image.effect_noise((1400, 1400), 90).convert("RGB").save(picture, "PNG")
    document.add_picture(io.BytesIO(picture.getvalue()))
    buffer = io.BytesIO()
    document.save(buffer)
    data = buffer.getvalue()
    assert len(data) > 4 * WINDOW
    sniffer = Sniffer()
    for start in range(0, len(data), 65536):
        sniffer.feed(data[start : start + 65536])
    assert len(sniffer._head) == WINDOW and len(sniffer._tail) == WINDOW
    assert sniffer.verdict() is DocumentType.docx
