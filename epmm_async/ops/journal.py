"""The job journal: one append-only file that makes a job resumable and owns it while it runs.

The file's format is :mod:`epmm_async.ops.journal_format`'s; what its records mean (the fold
that never downgrades a record, and what a resumed run does with each device) is
:mod:`epmm_async.ops.journal_fold`'s.

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

import anyio
import msgspec

from ..errors import JournalError
from .journal_fold import PENDING, Fold, JournalEntry, resume_decision
from .journal_format import (
    ENCODER,
    FORMAT_VERSION,
    JournalSnapshot,
    Loaded,
    OutcomeLine,
    PendingLine,
    RunLine,
    describe,
    encode_header,
    holder_pid,
    os_error,
    parse,
    refuse_sqlite,
    snapshot,
)
from .outcomes import Outcome

# FORMAT_VERSION, JournalEntry, JournalSnapshot, PENDING and resume_decision live in the
# modules above; they stay importable from here, where callers have imported them from.
__all__ = [
    "FORMAT_VERSION",
    "PENDING",
    "Journal",
    "JournalEntry",
    "JournalSnapshot",
    "resume_decision",
]

_Undo = tuple[str, str | None, str | None]  # a device, its old status and pending run


def _fsync_directory(directory: Path, path: str) -> None:
    """Make a new file's directory entry durable (else a power cut can lose the file)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise os_error(path, "cannot open its directory to make it durable", exc) from None
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # not supported here
            raise os_error(path, "cannot make its directory entry durable", exc) from None
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
        loaded: Loaded | None,
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
        self._fold = Fold() if loaded is None else loaded.fold
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
            encode_header(identity, 0.0)  # unencodable text fails before the file is touched
        except (msgspec.EncodeError, ValueError) as exc:
            raise JournalError(f"cannot record the job's identity: {exc}", path=name) from None
        refuse_sqlite(path)
        try:
            # a+: read and append, created if missing. Not inherited by child processes.
            file = io.FileIO(path, "a+")
        except OSError as exc:
            raise os_error(name, "cannot open it for writing", exc) from None
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
                pid = holder_pid(path)
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
            raise os_error(name, "cannot lock and read it", exc) from None
        loaded = parse(data, name)
        try:
            if loaded is None:
                # A new job (or a file whose creator died writing the header: nothing was
                # recorded, since open() makes the header durable before returning).
                created = time.time()
                if data:
                    os.ftruncate(fd, 0)
                _write_all(fd, encode_header(identity, created))
                os.fsync(fd)
                _fsync_directory(path.resolve().parent, name)
                size = os.fstat(fd).st_size
            else:
                header = loaded.header
                if header.identity != identity:
                    raise JournalError(
                        f"holds a {describe(header.identity)}, not a {describe(identity)}; "
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
            line = ENCODER.encode(RunLine(run, os.getpid(), time.time())) + b"\n"
            _write_all(fd, line)
        except OSError as exc:
            raise os_error(name, "cannot write to it", exc) from None
        return cls(path, identity, created, file, run, loaded, size + len(line))

    @staticmethod
    def read(path: str | os.PathLike[str]) -> JournalSnapshot:
        """What the journal file at ``path`` holds, read-only, without taking the lock.

        Works while a run holds the journal (its last line may then be ignored if it is
        being written). Raises :class:`JournalError` for a file that is not a journal,
        holds no job yet, or cannot be read.
        """
        return snapshot(Path(path))

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
            lines = [PendingLine(devices[i], PENDING, self._run, now) for i in accepted]
            self._append(lines, undo)
            self._syncing += 1
        # The fsync runs outside the lock: other runs' writes need not queue behind it, and
        # it makes everything written before it durable, this call's lines included.
        try:
            os.fsync(self._fd)
        except OSError as exc:
            with self._lock:
                self._broken = f"an fsync failed ({exc.strerror or exc})"
            raise os_error(self._name, "cannot make a pending mark durable", exc) from None
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
                OutcomeLine(o.device, o.status.value, o, now)
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

    def _append(self, lines: list[PendingLine] | list[OutcomeLine], undo: list[_Undo]) -> None:
        """Write ``lines`` in one write() (under the lock), or undo their staged changes."""
        try:
            data = ENCODER.encode_lines(lines)
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
            raise os_error(self._name, "cannot write to it", exc) from None
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
