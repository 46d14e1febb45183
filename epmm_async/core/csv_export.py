"""The ``devices.csv`` export parser: bytes in, typed rows out, linear in the body. No I/O.

:class:`CsvExportParser` is fed the body chunk by chunk as it streams in. It finds record
boundaries with the quoting rules of Python's :mod:`csv` (a quote opens a quoted field only
at the start of a field; ``""`` inside one is a literal quote; a newline inside one is data)
and carries its state from one chunk to the next, so every byte is scanned once and one
chunk costs time in proportion to its size, whatever came before. Memory is bounded too: the
body by ``max_bytes`` (:class:`~epmm_async.errors.ResponseTooLargeError`) and one record by
``max_record_bytes`` (:class:`~epmm_async.errors.DecodeError`), so a huge field or a quote
that is never closed cannot grow the buffer without limit.

Records are decoded as strict UTF-8 only once complete (CSV's delimiters are ASCII and never
occur inside a multi-byte sequence, so a character split between chunks is harmless); bad
bytes are a :class:`~epmm_async.errors.DecodeError` with their byte offset in the body.
"""

from __future__ import annotations

import re

import msgspec

from ..errors import DecodeError, ResponseTooLargeError, ValidationError
from ..models import CsvDeviceRow

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "CsvExportParser"]

DEFAULT_MAX_RECORD_BYTES = 1 << 20
"""The default cap on one record of the export (1 MiB; a real record is well under 2 KiB)."""

_BOM = b"\xef\xbb\xbf"
_QUOTE = 0x22
# Outside a quoted field, the next event is a run of line breaks (a record boundary) or a
# quote at the start of a field (after a comma or a line break, or at the start of the
# buffer, which always starts a record). A quote elsewhere in an unquoted field is literal.
_EVENT = re.compile(rb'[\r\n]+|(?<![^,\r\n])"')
_FIELDS = {f.encode_name for f in msgspec.structs.fields(CsvDeviceRow)}


def _split_record(text: str) -> list[str]:
    """The fields of one complete record (no line terminator), as :mod:`csv` reads them."""
    if '"' not in text:
        return text.split(",")
    fields: list[str] = []
    pos, n = 0, len(text)
    while True:
        if text.startswith('"', pos):
            parts: list[str] = []
            i = pos + 1
            while True:
                q = text.find('"', i)
                if q == -1:  # unterminated: only at the end of a truncated body
                    parts.append(text[i:])
                    i = n
                    break
                parts.append(text[i:q])
                if text.startswith('"', q + 1):
                    parts.append('"')
                    i = q + 2
                    continue
                i = q + 1
                break
            # Anything between the closing quote and the next comma is kept, as csv does.
            end = text.find(",", i)
            end = n if end == -1 else end
            parts.append(text[i:end])
            fields.append("".join(parts))
        else:
            end = text.find(",", pos)
            end = n if end == -1 else end
            fields.append(text[pos:end])
        if end >= n:
            return fields
        pos = end + 1
        if pos == n:  # a trailing comma: one more, empty, field
            fields.append("")
            return fields


class CsvExportParser:
    """Incremental parser of the ``devices.csv`` export into :class:`CsvDeviceRow` rows.

    Feed the body with :meth:`feed` as it arrives and finish with :meth:`close`. The first
    non-blank record is the header (a UTF-8 byte order mark before it is skipped); columns
    the model does not know are ignored, empty values become None, blank lines are skipped.
    Records are numbered from 1, the header being record 1.

    Raises :class:`~epmm_async.errors.ResponseTooLargeError` once more than ``max_bytes`` have
    been fed, and :class:`~epmm_async.errors.DecodeError` for a record over
    ``max_record_bytes``, bytes that are not UTF-8, a body that ends inside a quoted field,
    or a record whose values do not convert to the model's types.
    """

    def __init__(
        self, *, max_bytes: int, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    ) -> None:
        """Cap the whole body at ``max_bytes`` and one record at ``max_record_bytes``."""
        for name, value in (("max_bytes", max_bytes), ("max_record_bytes", max_record_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer, got {value!r}")
        self.max_bytes = max_bytes
        self.max_record_bytes = max_record_bytes
        self._head: bytes | None = b""  # the first bytes, until a BOM is ruled in or out
        self._buf = bytearray()  # the record being read: from the last boundary on
        self._base = 0  # body offset of _buf[0]
        self._scan = 0  # _buf[:_scan] is scanned; _quoted is the state there
        self._quoted = False
        self._fed = 0
        self._records = 0  # non-blank records parsed so far (the header included)
        self._columns: list[tuple[int, str]] | None = None  # (index, name) of known columns
        self._closed = False

    @property
    def bytes_fed(self) -> int:
        """Bytes of the body fed so far."""
        return self._fed

    def feed(self, chunk: bytes) -> list[CsvDeviceRow]:
        """Take the next bytes of the body; return the rows they complete."""
        if self._closed:
            raise RuntimeError("CsvExportParser.feed() after close()")
        self._fed += len(chunk)
        if self._fed > self.max_bytes:
            raise ResponseTooLargeError(
                f"devices.csv export exceeds the {self.max_bytes}-byte cap "
                "(max_response_bytes)"
            )
        if self._head is not None:
            self._head += chunk
            if len(self._head) < len(_BOM) and _BOM.startswith(self._head):
                return []  # maybe a byte order mark, split between chunks
            chunk = self._take_head()
        self._buf += chunk
        return self._drain(final=False)

    def close(self) -> list[CsvDeviceRow]:
        """End of the body: return the rows of the last record (if it had no line break)."""
        if self._closed:
            return []
        self._closed = True
        if self._head is not None:
            self._buf += self._take_head()
        return self._drain(final=True)

    # -- internals ---------------------------------------------------------------------------

    def _take_head(self) -> bytes:
        head, self._head = self._head or b"", None
        if head.startswith(_BOM):
            self._base = len(_BOM)
            return head[len(_BOM) :]
        return head

    def _drain(self, *, final: bool) -> list[CsvDeviceRow]:
        """Scan the new bytes of the buffer; parse and drop the records they complete."""
        buf = self._buf
        n = len(buf)
        pos, quoted = self._scan, self._quoted
        start = 0  # start of the current record in buf
        spans: list[tuple[int, int]] = []
        while pos < n:
            if quoted:
                q = buf.find(b'"', pos)
                if q == -1:
                    pos = n
                elif q + 1 < n:
                    if buf[q + 1] == _QUOTE:
                        pos = q + 2  # "" inside a quoted field: a literal quote
                    else:
                        pos, quoted = q + 1, False
                elif final:
                    pos, quoted = n, False  # the closing quote is the last byte of the body
                else:
                    break  # a quote as the last byte: "" or a closing one? The next chunk says.
            else:
                m = _EVENT.search(buf, pos)
                if m is None:
                    pos = n
                elif buf[m.start()] == _QUOTE:
                    pos, quoted = m.end(), True
                else:
                    self._check_record(m.start() - start, start)
                    spans.append((start, m.start()))
                    pos = start = m.end()
        if final:
            if quoted:
                raise DecodeError(
                    f"devices.csv ends inside a quoted field: record {self._records + 1} "
                    f"(at byte {self._base + start}) is not terminated"
                )
            if start < n:
                spans.append((start, n))
                start = n
        # What is left is the record being read: it must stay under the cap as it grows.
        self._check_record(n - start, start)
        rows = self._parse(buf, spans)
        if start:
            del buf[:start]
            self._base += start
        self._scan, self._quoted = pos - start, quoted
        return rows

    def _check_record(self, size: int, start: int) -> None:
        if size > self.max_record_bytes:
            raise DecodeError(
                f"devices.csv record {self._records + 1} (at byte {self._base + start}) "
                f"exceeds the {self.max_record_bytes}-byte record cap (max_record_bytes)"
            )

    def _parse(self, buf: bytearray, spans: list[tuple[int, int]]) -> list[CsvDeviceRow]:
        out: list[CsvDeviceRow] = []
        for start, end in spans:
            try:
                text = buf[start:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(
                    f"devices.csv is not valid UTF-8: byte {self._base + start + exc.start} "
                    f"(record {self._records + 1}): {exc.reason}"
                ) from None
            if not text.strip():
                continue
            self._records += 1
            record = _split_record(text)
            if self._columns is None:
                self._columns = [
                    (i, name) for i, name in enumerate(h.strip() for h in record)
                    if name in _FIELDS
                ]
                continue
            width = len(record)
            values = {
                name: (record[i] if record[i] != "" else None)
                for i, name in self._columns
                if i < width
            }
            try:
                out.append(msgspec.convert(values, CsvDeviceRow, strict=False))
            except msgspec.ValidationError as exc:
                raise DecodeError(
                    f"devices.csv record {self._records} (at byte {self._base + start}): {exc}"
                ) from None
        return out
