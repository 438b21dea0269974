"""What a document is, decided by its own bytes, never by its name or the declared type.

PDF, PNG and JPEG announce themselves in their first bytes. DOCX is a ZIP (Office Open XML),
and so are a thousand other things (a JAR, an APK, a macro-enabled ``.docm``), so a ZIP is a
DOCX only when its ``[Content_Types].xml`` names the WordprocessingML main document part and
that part is in the archive. The whole upload is never held: ``Sniffer`` keeps its first and
last ``WINDOW`` bytes, enough for the ZIP's central directory (at the end) and for
``[Content_Types].xml`` (written first by Word, LibreOffice and python-docx).
"""

import io
import zipfile
import zlib
from enum import StrEnum
from xml.etree import ElementTree

WINDOW = 256 * 1024
CONTENT_TYPES_PART = "[Content_Types].xml"
WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
# The XML of [Content_Types].xml is small (a few KB); more than this is not a real one.
CONTENT_TYPES_MAX = 64 * 1024


class DocumentType(StrEnum):
    """The media types a portfolio accepts, with the extension a download suggests."""

    pdf = "application/pdf"
    png = "image/png"
    jpeg = "image/jpeg"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    @property
    def extension(self) -> str:
        return {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg", "docx": ".docx"}[self.name]


_SIGNATURES = (
    (b"%PDF-", DocumentType.pdf),
    (b"\x89PNG\r\n\x1a\n", DocumentType.png),
    (b"\xff\xd8\xff", DocumentType.jpeg),
)
_ZIP_LOCAL_HEADER = b"PK\x03\x04"


class _HeadAndTail(io.RawIOBase):
    """A seekable view of a file of which only the first and last bytes are kept; reading
    anything in between raises, which makes the archive unverifiable (so refused)."""

    def __init__(self, head: bytes, tail: bytes, size: int) -> None:
        self._head, self._tail, self._size = head, tail, size
        self._tail_start = size - len(tail)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        start = self._position
        end = min(self._size, start + len(buffer))
        if start >= end:
            return 0
        if end <= len(self._head):
            data = self._head[start:end]
        elif start >= self._tail_start:
            data = self._tail[start - self._tail_start : end - self._tail_start]
        else:
            raise ValueError("the archive needs bytes this check did not keep")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _is_docx(head: bytes, tail: bytes, size: int) -> bool:
    try:
        with zipfile.ZipFile(io.BufferedReader(_HeadAndTail(head, tail, size))) as archive:
            names = set(archive.namelist())
            info = archive.getinfo(CONTENT_TYPES_PART)
            if info.file_size > CONTENT_TYPES_MAX:
                return False
            content_types = archive.read(info)
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, NotImplementedError, zlib.error):
        return False
    try:
        root = ElementTree.fromstring(content_types)  # noqa: S314 - no entities are expanded
    except ElementTree.ParseError:
        return False
    for override in root:
        if override.tag.endswith("Override") and override.get("ContentType") == WORD_MAIN:
            part = (override.get("PartName") or "").lstrip("/")
            return part.startswith("word/") and part in names
    return False


class Sniffer:
    """Fed the upload chunk by chunk; ``verdict()`` at the end names its type, or None."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < WINDOW:
            self._head += chunk[: WINDOW - len(self._head)]
        self._tail += chunk
        if len(self._tail) > WINDOW:
            del self._tail[: len(self._tail) - WINDOW]
        self.size += len(chunk)

    def early_verdict(self) -> bool | None:
        """False once the first bytes rule out every accepted type (so the rest need not be
        read); None while undecided."""
        if len(self._head) < 8 and self.size < 8:
            return None
        head = bytes(self._head[:8])
        if any(head.startswith(signature) for signature, _ in _SIGNATURES):
            return True
        return head.startswith(_ZIP_LOCAL_HEADER)

    def verdict(self) -> DocumentType | None:
        head = bytes(self._head)
        for signature, kind in _SIGNATURES:
            if head.startswith(signature):
                return kind
        if head.startswith(_ZIP_LOCAL_HEADER) and _is_docx(head, bytes(self._tail), self.size):
            return DocumentType.docx
        return None
