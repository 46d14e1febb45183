"""The journal file's format: one file of JSON lines, parsed (folded) and written here.

One file of JSON lines. The first line is a header naming the job::

    {"journal":"epmm-async","version":2,"identity":{"action":"wipe","reason":""},"created":T}

``identity`` is the device action and its parameters, so a journal file holds exactly one
job, whichever mode (bulk or per device) runs it. Every later line is an event:

* a run start, written when a run opens the journal: ``{"run":ID,"pid":N,"at":T}``;
* a pending mark, written before a destructive request leaves, one line per device:
  ``{"d":DEVICE,"s":"pending","run":ID,"at":T}``;
* an outcome: ``{"d":DEVICE,"s":STATUS,"o":OUTCOME,"at":T}``.

A file is folded line by line (:mod:`epmm_async.ops.journal_fold`); a torn last line is
ignored. Nothing here writes: opening, locking and writing are
:class:`~epmm_async.ops.journal.Journal`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import msgspec

from ..errors import JournalError
from .journal_fold import PENDING, TERMINAL, Fold, JournalEntry
from .outcomes import Outcome

__all__ = [
    "ENCODER",
    "FORMAT_VERSION",
    "JournalSnapshot",
    "Loaded",
    "OutcomeLine",
    "PendingLine",
    "RunLine",
    "describe",
    "encode_header",
    "holder_pid",
    "os_error",
    "parse",
    "refuse_sqlite",
    "snapshot",
]

FORMAT_VERSION = 2
"""The version of the format this module reads and writes."""

_JOURNAL_TAG = "epmm-async"
# How every header this module writes begins (msgspec encodes struct fields in order).
_HEADER_PREFIX = b'{"journal":"epmm-async",'
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class JournalSnapshot:
    """What a journal file holds, read without taking it over (see :meth:`Journal.read`)."""

    path: Path
    identity: Mapping[str, str]
    """The job: its device action and parameters."""
    created: float
    """When the journal was created (seconds since the epoch)."""
    entries: Mapping[str, JournalEntry]
    """Every device the job has a record for."""
    counts: Mapping[str, int]
    """Devices per status (``pending`` included)."""


class Header(msgspec.Struct, frozen=True):
    """The first line: the tag, the format version, the job and when it was created."""

    journal: str
    version: int
    identity: dict[str, str]
    created: float


class RunLine(msgspec.Struct, frozen=True):
    """A run start: the run that holds the journal from here on, and its process."""

    run: str
    pid: int
    at: float


class PendingLine(msgspec.Struct, frozen=True):
    """A device marked pending by a run, before its destructive request leaves."""

    d: str
    s: str
    run: str
    at: float


class OutcomeLine(msgspec.Struct, frozen=True):
    """A device's outcome."""

    d: str
    s: str
    o: Outcome
    at: float


class _Line(msgspec.Struct, frozen=True, gc=False):
    """Any event line, as read back. The outcome is decoded only if it is the device's last
    (and untracked by the garbage collector: with tens of thousands of lines, collections
    triggered by the allocations would otherwise cost more than the decoding)."""

    d: str | None = None
    s: str | None = None
    o: msgspec.Raw = msgspec.Raw()  # empty when absent (msgspec has no Raw | None)
    run: str | None = None
    pid: int | None = None
    at: float = 0.0


ENCODER = msgspec.json.Encoder()
_LINE_DECODER = msgspec.json.Decoder(_Line)
_OUTCOME_DECODER = msgspec.json.Decoder(Outcome)
_RUN_DECODER = msgspec.json.Decoder(RunLine)


@dataclass(slots=True)
class Loaded:
    """A journal file as folded: its header, each device's state and last outcome."""

    header: Header
    fold: Fold
    outcomes: dict[str, Outcome]
    good_length: int
    """Bytes up to the end of the last whole, valid line: where the next line goes."""

    def entries(self) -> dict[str, JournalEntry]:
        """Every device's record, by device."""
        outcomes = self.outcomes
        return {
            device: JournalEntry(device, status, outcomes.get(device))
            for device, status in self.fold.status.items()
        }


def _sqlite_error(path: str) -> JournalError:
    return JournalError(
        "was written by epmm-async 0.1 (SQLite) and cannot be resumed by this version; "
        "use a new journal file",
        path=path,
    )


def _not_a_journal(path: str) -> JournalError:
    return JournalError(
        "is not an epmm-async journal (no journal header); use another journal file",
        path=path,
    )


def _is_torn_header(data: bytes) -> bool:
    """A file holding only the beginning of a header: its creator died writing it."""
    if b"\n" in data:
        return False
    head = data.rstrip(b"\x00")  # a power cut can leave the unwritten tail as zeros
    return _HEADER_PREFIX.startswith(head) or head.startswith(_HEADER_PREFIX)


def parse(data: bytes, path: str) -> Loaded | None:
    """Fold a journal file's bytes; None for a file with no job yet (empty, torn header)."""
    if data.startswith(_SQLITE_MAGIC):
        raise _sqlite_error(path)
    if not data or _is_torn_header(data):
        return None
    end = data.find(b"\n")
    if end < 0:
        raise _not_a_journal(path)
    header = _parse_header(data[:end], path)

    body = data[end + 1 :].split(b"\n")
    # Every line ends with a newline, so the last piece is empty unless the last write was
    # torn: then it is ignored (it was being written when the writer died).
    tail = body.pop()
    good_length = len(data) - len(tail)
    fold = Fold()
    last_outcomes: dict[str, tuple[int, msgspec.Raw]] = {}  # the line, to decode at the end
    run: str | None = None
    last = len(body) - 1
    for index, raw in enumerate(body):
        try:
            line = _LINE_DECODER.decode(raw)
        except msgspec.ValidationError as exc:
            raise _corrupt(path, index, f"not a journal event ({exc})") from None
        except msgspec.DecodeError:
            if index == last and not tail:
                # A torn last line that happens to end in a newline (or a power cut's
                # zeros): ignored too, and cut off before the next run appends.
                good_length -= len(raw) + 1
                break
            raise _corrupt(path, index, "not valid JSON") from None
        device, status = line.d, line.s
        if device is None:
            if line.run is None:
                raise _corrupt(path, index, "neither a run nor a device event")
            run = line.run
            continue
        if status == PENDING:
            if line.run is None:
                raise _corrupt(path, index, "a pending mark without its run")
            if fold.accepts(device, PENDING, run):
                fold.set(device, PENDING, line.run)
                last_outcomes.pop(device, None)
        elif status in TERMINAL:
            if not line.o:
                raise _corrupt(path, index, "an outcome line without its outcome")
            if fold.accepts(device, status, run):
                fold.set(device, status, None)
                last_outcomes[device] = (index, line.o)
        else:
            raise _corrupt(path, index, f"unknown status {status!r}")
    outcomes: dict[str, Outcome] = {}
    for device, (index, raw_outcome) in last_outcomes.items():
        try:
            outcome = _OUTCOME_DECODER.decode(raw_outcome)
        except msgspec.DecodeError as exc:
            raise _corrupt(path, index, f"not an outcome ({exc})") from None
        if outcome.device != device or outcome.status != fold.status[device]:
            raise _corrupt(path, index, "an outcome for another device or status")
        outcomes[device] = outcome
    return Loaded(header, fold, outcomes, good_length)


def _corrupt(path: str, index: int, why: str) -> JournalError:
    # index counts event lines from 0; the header is line 1.
    return JournalError(f"corrupt at line {index + 2}: {why}", path=path)


def _parse_header(raw: bytes, path: str) -> Header:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise _not_a_journal(path) from None
    if not isinstance(value, dict) or value.get("journal") != _JOURNAL_TAG:
        raise _not_a_journal(path)
    version = value.get("version")
    if version != FORMAT_VERSION:
        raise JournalError(
            f"has journal format version {version!r}; this version of epmm-async reads "
            f"version {FORMAT_VERSION} only",
            path=path,
        )
    try:
        return msgspec.convert(value, Header)
    except msgspec.ValidationError as exc:
        raise JournalError(f"corrupt at line 1: {exc}", path=path) from None


def describe(identity: Mapping[str, str]) -> str:
    """``'lock' job (reason='x')``: a job as the user named it."""
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(identity.items()) if k != "action")
    text = f"{identity['action']!r} job" if "action" in identity else "job"
    return f"{text} ({params})" if params else text


def os_error(path: str, doing: str, exc: OSError) -> JournalError:
    """The JournalError for a failed file operation: what was being done, and why not."""
    return JournalError(f"{doing}: {exc.strerror or exc}", path=path)


def _read_all(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def holder_pid(path: Path) -> int | None:
    """The pid in the last run line: the run that holds the lock (if it wrote one yet)."""
    try:
        data = _read_all(path)
    except OSError:
        return None
    start = data.rfind(b'\n{"run":') + 1
    if start == 0:
        return None
    end = data.find(b"\n", start)
    try:
        return _RUN_DECODER.decode(data[start : end if end >= 0 else len(data)]).pid
    except msgspec.DecodeError:
        return None


def encode_header(identity: dict[str, str], created: float) -> bytes:
    """The header line of a new journal of the job ``identity``."""
    header = Header(_JOURNAL_TAG, FORMAT_VERSION, identity, created)
    return ENCODER.encode(header) + b"\n"


def refuse_sqlite(path: Path) -> None:
    """Refuse an epmm-async 0.1 journal before opening it for writing."""
    try:
        with open(path, "rb") as file:
            magic = file.read(len(_SQLITE_MAGIC))
    except OSError:
        return  # missing (a new journal) or unreadable: the open for writing says which
    if magic == _SQLITE_MAGIC:
        raise _sqlite_error(str(path))


def snapshot(path: Path) -> JournalSnapshot:
    """What the journal file at ``path`` holds (see :meth:`Journal.read`)."""
    name = str(path)
    try:
        data = _read_all(path)
    except OSError as exc:
        raise os_error(name, "cannot read it", exc) from None
    loaded = parse(data, name)
    if loaded is None:
        raise JournalError("holds no job yet (no journal header)", path=name)
    return JournalSnapshot(
        path=path,
        identity=MappingProxyType(loaded.header.identity),
        created=loaded.header.created,
        entries=MappingProxyType(loaded.entries()),
        counts=loaded.fold.count_map(),
    )

