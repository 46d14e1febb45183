"""The job journal: one append-only file that makes a job resumable and owns it while it runs.

Format
------
One file of JSON lines. The first line is a header naming the job::

    {"journal":"epmm-async","version":2,"identity":{"action":"wipe","reason":""},"created":T}

``identity`` is the device action and its parameters, so a journal file holds exactly one
job, whichever mode (bulk or per device) runs it. Every later line is an event:

* a run start, written when a run opens the journal: ``{"run":ID,"pid":N,"at":T}``;
* a pending mark, written before a destructive request leaves, one line per device:
  ``{"d":DEVICE,"s":"pending","run":ID,"at":T}``;
* an outcome: ``{"d":DEVICE,"s":STATUS,"o":OUTCOME,"at":T}``.

A device's state is the *fold* of its lines in file order, and the fold never downgrades a
record (see :func:`_replaces`): SUCCEEDED and INVALID are final; UNKNOWN (and a pending mark
left by an earlier run, which may have been applied) gives way only to SUCCEEDED or INVALID;
a pending mark of the current run gives way to any answer but never to CANCELLED or SKIPPED;
FAILED, CANCELLED and SKIPPED (certainly not applied) give way to anything. The fold decides
both what a run writes and what a load keeps, so a file edited by hand, or written by a
future bug, still cannot turn a wipe that may have happened into one that is sent again.

Durability
----------
Nothing is rewritten in place: a crash can only tear the last line, which is then ignored
on load (and cut off before the next run appends). A pending mark is written and fsynced
before :meth:`Journal.mark_pending` returns, so a torn mark means its request never left,
while every request that may have left has a durable mark: a run killed between sending
and recording leaves its devices pending, and the resumed run reports them UNKNOWN instead
of wiping them again. Outcomes are written but not fsynced (see :meth:`Journal.record`).
The journal is the one file: copying it alone, even right after a kill, copies the job.

Locking
-------
An open journal holds an exclusive ``flock`` on its file until :meth:`Journal.close`. A
second open of the same file, by another task of this process or by another process, fails
at once with :class:`~epmm_async.errors.JournalError`: two runs of one job never act side by
side. The operating system drops the lock when its holder dies (even by SIGKILL), so a killed
run never blocks its resume. ``flock`` locks are advisory and local: on a network file
system they may not exclude a run on another machine.

Every file operation runs in a worker thread, so a slow disk never blocks the event loop,
and every failure (a read-only file or directory, a full disk, a corrupt or foreign file)
is a :class:`~epmm_async.errors.JournalError` naming the file.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import secrets
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType

import anyio
import msgspec

from ..errors import JournalError
from .outcomes import Outcome, OutcomeStatus

__all__ = ["PENDING", "Journal", "JournalEntry", "JournalSnapshot", "resume_decision"]

PENDING = "pending"
"""The status of a device whose request was sent (or about to be) and not yet answered."""

FORMAT_VERSION = 2

_JOURNAL_TAG = "epmm-async"
# How every header this module writes begins (msgspec encodes struct fields in order).
_HEADER_PREFIX = b'{"journal":"epmm-async",'
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SUCCEEDED = OutcomeStatus.SUCCEEDED.value
_INVALID = OutcomeStatus.INVALID.value
_UNKNOWN = OutcomeStatus.UNKNOWN.value
_FAILED = OutcomeStatus.FAILED.value
_TERMINAL = frozenset(s.value for s in OutcomeStatus)
# Certainly not applied: anything may replace these, a new pending mark included.
_REPLACEABLE = frozenset(
    {_FAILED, OutcomeStatus.CANCELLED.value, OutcomeStatus.SKIPPED.value}
)
# What may replace this run's own pending mark: an answer. Not CANCELLED or SKIPPED: a
# request that may have left is never recorded as not attempted.
_AFTER_PENDING = frozenset({_SUCCEEDED, _INVALID, _UNKNOWN, _FAILED})
# What may replace UNKNOWN (or an earlier run's pending mark): a resend that was answered.
# A FAILED resend says nothing about the earlier attempt, which may have been applied.
_AFTER_UNKNOWN = frozenset({_SUCCEEDED, _INVALID})


def _replaces(old: str | None, old_is_this_runs_pending: bool, new: str) -> bool:
    """Whether a ``new`` record replaces a device's ``old`` one: the fold's only rule."""
    if old is None or old in _REPLACEABLE:
        return True
    if old == PENDING and old_is_this_runs_pending:
        return new in _AFTER_PENDING
    if old in (PENDING, _UNKNOWN):  # an earlier run's pending mark is an UNKNOWN
        return new in _AFTER_UNKNOWN
    return False  # SUCCEEDED and INVALID are final


class JournalEntry(msgspec.Struct, frozen=True, gc=False):
    """A device's recorded state: a terminal outcome, or pending (sent, no answer yet)."""

    device: str
    status: str
    """An :class:`OutcomeStatus` value, or ``"pending"``."""
    outcome: Outcome | None
    """The recorded outcome; None for a pending device."""


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


class _Header(msgspec.Struct, frozen=True):
    journal: str
    version: int
    identity: dict[str, str]
    created: float


class _RunLine(msgspec.Struct, frozen=True):
    run: str
    pid: int
    at: float


class _PendingLine(msgspec.Struct, frozen=True):
    d: str
    s: str
    run: str
    at: float


class _OutcomeLine(msgspec.Struct, frozen=True):
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


_Undo = tuple[str, str | None, str | None]  # a device, its old status and pending run

_ENCODER = msgspec.json.Encoder()
_LINE_DECODER = msgspec.json.Decoder(_Line)
_OUTCOME_DECODER = msgspec.json.Decoder(Outcome)
_RUN_DECODER = msgspec.json.Decoder(_RunLine)


class _Fold:
    """The folded state: each device's status, the run of each pending mark, the counts."""

    __slots__ = ("counts", "pending_run", "status")

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.pending_run: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def accepts(self, device: str, new: str, current_run: str | None) -> bool:
        old = self.status.get(device)
        this_run = old == PENDING and self.pending_run.get(device) == current_run
        return _replaces(old, this_run, new)

    def get(self, device: str) -> tuple[str | None, str | None]:
        return self.status.get(device), self.pending_run.get(device)

    def set(self, device: str, status: str | None, pending_run: str | None) -> None:
        old = self.status.get(device)
        if old is not None:
            self.counts[old] -= 1
        if status is None:
            self.status.pop(device, None)
        else:
            self.status[device] = status
            self.counts[status] += 1
        if pending_run is None:
            self.pending_run.pop(device, None)
        else:
            self.pending_run[device] = pending_run

    def count_map(self) -> dict[str, int]:
        return {status: n for status, n in self.counts.items() if n}


@dataclass(slots=True)
class _Loaded:
    header: _Header
    fold: _Fold
    outcomes: dict[str, Outcome]
    good_length: int
    """Bytes up to the end of the last whole, valid line: where the next line goes."""

    def entries(self) -> dict[str, JournalEntry]:
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


def _parse(data: bytes, path: str) -> _Loaded | None:
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
    fold = _Fold()
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
        elif status in _TERMINAL:
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
    return _Loaded(header, fold, outcomes, good_length)


def _corrupt(path: str, index: int, why: str) -> JournalError:
    # index counts event lines from 0; the header is line 1.
    return JournalError(f"corrupt at line {index + 2}: {why}", path=path)


def _parse_header(raw: bytes, path: str) -> _Header:
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
        return msgspec.convert(value, _Header)
    except msgspec.ValidationError as exc:
        raise JournalError(f"corrupt at line 1: {exc}", path=path) from None


def _describe(identity: Mapping[str, str]) -> str:
    """``'lock' job (reason='x')``: a job as the user named it."""
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(identity.items()) if k != "action")
    text = f"{identity['action']!r} job" if "action" in identity else "job"
    return f"{text} ({params})" if params else text


def _os_error(path: str, doing: str, exc: OSError) -> JournalError:
    return JournalError(f"{doing}: {exc.strerror or exc}", path=path)


def _read_all(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _holder_pid(path: Path) -> int | None:
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


def _fsync_directory(directory: Path, path: str) -> None:
    """Make a new file's directory entry durable (else a power cut can lose the file)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise _os_error(path, "cannot open its directory to make it durable", exc) from None
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # not supported here
            raise _os_error(path, "cannot make its directory entry durable", exc) from None
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """One write() in practice; a short write (rare, for a regular file) is continued."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


class Journal:
    """One job's journal file, held open (and locked) by one run.

    Open it with :meth:`Journal.open`, read it without taking it over with
    :meth:`Journal.read`. Safe to use from many tasks of one event loop at once.
    """

    def __init__(
        self,
        path: Path,
        identity: dict[str, str],
        created: float,
        file: io.FileIO,
        run: str,
        loaded: _Loaded | None,
        size: int,
    ) -> None:
        """Internal: use :meth:`Journal.open`."""
        self._path = path
        self._name = str(path)
        self._identity = MappingProxyType(identity)
        self._created = created
        self._file = file
        self._fd = file.fileno()
        self._run = run
        self._size = size  # the file's length: where a failed write is cut back to
        self._fold = _Fold() if loaded is None else loaded.fold
        self._entries = MappingProxyType({} if loaded is None else loaded.entries())
        self._counts = self._fold.count_map()
        # Held for a fold decision and its write, so the file's order is the fold's order.
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._syncing = 0  # fsyncs running outside the lock; close() waits for them
        self._closed = False
        self._broken: str | None = None

    # -- opening ------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | os.PathLike[str], identity: Mapping[str, str]) -> Journal:
        """Open (or create) the journal of the job ``identity``, and lock it for this run.

        ``identity`` is the device action and its parameters, e.g.
        ``{"action": "wipe", "reason": ""}``. Raises :class:`JournalError` when the file
        holds another job, is in use by another run, is not a journal, or cannot be read
        or written; nothing is changed in the file then.
        """
        ident = dict(identity)
        for key, value in ident.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"journal identity must map str to str, not {key!r}: {value!r}")
        return await anyio.to_thread.run_sync(cls._open_sync, Path(path), ident)

    @classmethod
    def _open_sync(cls, path: Path, identity: dict[str, str]) -> Journal:
        name = str(path)
        try:
            _encode_header(identity, 0.0)  # unencodable text fails before the file is touched
        except (msgspec.EncodeError, ValueError) as exc:
            raise JournalError(f"cannot record the job's identity: {exc}", path=name) from None
        _refuse_sqlite(path)
        try:
            # a+: read and append, created if missing. Not inherited by child processes.
            file = io.FileIO(path, "a+")
        except OSError as exc:
            raise _os_error(name, "cannot open it for writing", exc) from None
        try:
            return cls._take_over(path, identity, file)
        except BaseException:
            file.close()  # releases the lock, if it was taken
            raise

    @classmethod
    def _take_over(cls, path: Path, identity: dict[str, str], file: io.FileIO) -> Journal:
        name = str(path)
        fd = file.fileno()
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise JournalError("is not a regular file", path=name)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _holder_pid(path)
                who = "" if pid is None else f" (pid {pid})"
                if pid == os.getpid():
                    who = f" (pid {pid}, this process)"
                raise JournalError(
                    f"in use by another run{who}; wait for it to end, or use another "
                    "journal file",
                    path=name,
                ) from None
            file.seek(0)
            data = file.readall()
        except OSError as exc:
            raise _os_error(name, "cannot lock and read it", exc) from None
        loaded = _parse(data, name)
        try:
            if loaded is None:
                # A new job (or a file whose creator died writing the header: nothing was
                # recorded, since open() makes the header durable before returning).
                created = time.time()
                if data:
                    os.ftruncate(fd, 0)
                _write_all(fd, _encode_header(identity, created))
                os.fsync(fd)
                _fsync_directory(path.resolve().parent, name)
                size = os.fstat(fd).st_size
            else:
                header = loaded.header
                if header.identity != identity:
                    raise JournalError(
                        f"holds a {_describe(header.identity)}, not a {_describe(identity)}; "
                        "use another journal file for this job",
                        path=name,
                    )
                created = header.created
                if loaded.good_length < len(data):
                    # Cut the torn last line off, or the next line would be glued to it
                    # and corrupt the middle of the file. (No fsync: if the cut is lost
                    # the torn line is the last whole-file line again, still ignored,
                    # and the next pending mark's fsync makes both durable anyway.)
                    os.ftruncate(fd, loaded.good_length)
                size = loaded.good_length
            run = secrets.token_hex(8)
            # Names this run as the holder; made durable by the first pending mark's fsync.
            line = _ENCODER.encode(_RunLine(run, os.getpid(), time.time())) + b"\n"
            _write_all(fd, line)
        except OSError as exc:
            raise _os_error(name, "cannot write to it", exc) from None
        return cls(path, identity, created, file, run, loaded, size + len(line))

    @staticmethod
    def read(path: str | os.PathLike[str]) -> JournalSnapshot:
        """What the journal file at ``path`` holds, read-only, without taking the lock.

        Works while a run holds the journal (its last line may then be ignored if it is
        being written). Raises :class:`JournalError` for a file that is not a journal,
        holds no job yet, or cannot be read.
        """
        file_path = Path(path)
        name = str(file_path)
        try:
            data = _read_all(file_path)
        except OSError as exc:
            raise _os_error(name, "cannot read it", exc) from None
        loaded = _parse(data, name)
        if loaded is None:
            raise JournalError("holds no job yet (no journal header)", path=name)
        return JournalSnapshot(
            path=file_path,
            identity=MappingProxyType(loaded.header.identity),
            created=loaded.header.created,
            entries=MappingProxyType(loaded.entries()),
            counts=loaded.fold.count_map(),
        )

    # -- state ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Journal({self._name!r}, identity={dict(self._identity)!r})"

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._path

    @property
    def identity(self) -> Mapping[str, str]:
        """The job: its device action and parameters."""
        return self._identity

    @property
    def created(self) -> float:
        """When the journal was created (seconds since the epoch)."""
        return self._created

    @property
    def entries(self) -> Mapping[str, JournalEntry]:
        """Every device the journal had a record for when this run opened it."""
        return self._entries

    def counts(self) -> dict[str, int]:
        """Devices per status in the journal now, this run's records included."""
        return dict(self._counts)  # a snapshot replaced whole after each write: loop-safe

    # -- writing --------------------------------------------------------------------------

    async def mark_pending(self, devices: Iterable[str]) -> None:
        """Record ``devices`` as sent-but-unanswered; durable (fsynced) when it returns.

        Call it before a destructive request leaves. A device whose record must not be
        downgraded (an answer, or an UNKNOWN) keeps its record. One write, one fsync.
        """
        batch = list(devices)
        if batch:
            await anyio.to_thread.run_sync(self._mark_pending_sync, batch)

    async def record(self, outcomes: Iterable[Outcome]) -> None:
        """Record terminal outcomes (outcomes carried over from the journal are skipped).

        An outcome that would downgrade a device's record is not written (see the module
        docstring). Written, not fsynced: a process kill loses nothing written, and a
        power cut that loses a SUCCEEDED of a destructive action leaves its durable
        pending mark, which a resume reports UNKNOWN and does not resend; a lost outcome
        of a harmless action only means the device is acted on again.
        """
        batch = [o for o in outcomes if not o.from_journal]
        if batch:
            await anyio.to_thread.run_sync(self._record_sync, batch)

    def _mark_pending_sync(self, devices: list[str]) -> None:
        now = time.time()
        with self._lock:
            self._check_writable()
            accepted, undo = self._stage([(device, PENDING) for device in devices])
            if not accepted:
                return
            lines = [_PendingLine(devices[i], PENDING, self._run, now) for i in accepted]
            self._append(lines, undo)
            self._syncing += 1
        # The fsync runs outside the lock: other runs' writes need not queue behind it, and
        # it makes everything written before it durable, this call's lines included.
        try:
            os.fsync(self._fd)
        except OSError as exc:
            with self._lock:
                self._broken = f"an fsync failed ({exc.strerror or exc})"
            raise _os_error(self._name, "cannot make a pending mark durable", exc) from None
        finally:
            with self._lock:
                self._syncing -= 1
                self._idle.notify_all()

    def _record_sync(self, outcomes: list[Outcome]) -> None:
        now = time.time()
        with self._lock:
            self._check_writable()
            accepted, undo = self._stage([(o.device, o.status.value) for o in outcomes])
            lines = [
                _OutcomeLine(o.device, o.status.value, o, now)
                for o in (outcomes[i] for i in accepted)
            ]
            if lines:
                self._append(lines, undo)

    def _stage(self, changes: list[tuple[str, str]]) -> tuple[list[int], list[_Undo]]:
        """Apply the changes the fold accepts to the in-memory state (under the lock).

        Returns the indexes of the accepted changes, and what undoes them if the write
        fails. A change is checked against the ones before it in the same batch.
        """
        fold, run = self._fold, self._run
        accepted: list[int] = []
        undo: list[_Undo] = []
        for index, (device, status) in enumerate(changes):
            if fold.accepts(device, status, run):
                undo.append((device, *fold.get(device)))
                fold.set(device, status, run if status == PENDING else None)
                accepted.append(index)
        return accepted, undo

    def _append(self, lines: list[_PendingLine] | list[_OutcomeLine], undo: list[_Undo]) -> None:
        """Write ``lines`` in one write() (under the lock), or undo their staged changes."""
        try:
            data = _ENCODER.encode_lines(lines)
        except (msgspec.EncodeError, ValueError) as exc:
            self._undo(undo)
            raise JournalError(f"cannot encode a record: {exc}", path=self._name) from None
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self._undo(undo)
            # Cut a partial write off so the file stays whole (best effort: a torn last
            # line is ignored on load anyway), and refuse further writes: the file's
            # state is no longer known well enough to build on.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            self._broken = f"a write failed ({exc.strerror or exc})"
            raise _os_error(self._name, "cannot write to it", exc) from None
        self._size += len(data)
        self._counts = self._fold.count_map()

    def _undo(self, undo: list[_Undo]) -> None:
        for device, status, run in reversed(undo):
            self._fold.set(device, status, run)

    def _check_writable(self) -> None:
        if self._closed:
            raise JournalError("is closed", path=self._name)
        if self._broken is not None:
            raise JournalError(
                f"{self._broken} earlier in this run; nothing more is written", path=self._name
            )

    # -- closing --------------------------------------------------------------------------

    async def close(self) -> None:
        """Release the lock and close the file. Idempotent; runs even when cancelled."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while self._syncing:
                self._idle.wait()
            try:
                # Unlock explicitly: a forked child may share the descriptor and keep it.
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass
            self._file.close()


def _encode_header(identity: dict[str, str], created: float) -> bytes:
    header = _Header(_JOURNAL_TAG, FORMAT_VERSION, identity, created)
    return _ENCODER.encode(header) + b"\n"


def _refuse_sqlite(path: Path) -> None:
    """Refuse an epmm-async 0.1 journal before opening it for writing."""
    try:
        with open(path, "rb") as file:
            magic = file.read(len(_SQLITE_MAGIC))
    except OSError:
        return  # missing (a new journal) or unreadable: the open for writing says which
    if magic == _SQLITE_MAGIC:
        raise _sqlite_error(str(path))


def resume_decision(
    entry: JournalEntry, *, destructive: bool, resend_unknown: bool
) -> Outcome | None:
    """What a resumed run does with a device the journal knows.

    Returns the outcome to report without acting (carried over from the journal), or None
    to act on the device again.
    """
    status = entry.status
    if status == PENDING:
        if destructive and not resend_unknown:
            return Outcome(
                device=entry.device,
                action="",
                status=OutcomeStatus.UNKNOWN,
                from_journal=True,
                detail="sent by an earlier run that stopped before the answer; not resent",
            )
        return None
    if entry.outcome is None:
        return None
    if status in (OutcomeStatus.SUCCEEDED.value, OutcomeStatus.INVALID.value):
        return msgspec.structs.replace(entry.outcome, from_journal=True)
    if status == OutcomeStatus.UNKNOWN.value and destructive and not resend_unknown:
        return msgspec.structs.replace(entry.outcome, from_journal=True)
    return None  # failed, skipped, cancelled, or a harmless unknown: act again
