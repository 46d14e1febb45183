"""What an aiohttp failure means: the typed error that says whether the request may have left.

Every error a transport raises is an :class:`~epmm_async.errors.EpmmError` made here, raised
``from None`` so that no aiohttp object (whose request info holds the ``Authorization``
header) rides along in a traceback.
"""

from __future__ import annotations

try:  # imported up front: when descriptors run out, a lazy import would fail too
    import resource
except ImportError:  # not on Unix
    resource = None  # type: ignore[assignment]

import asyncio
import errno
import os
import socket
import ssl

import aiohttp

from ..errors import ConnectError, EpmmError, TimeoutError, TlsError, TransportError
from .base import HttpRequest

__all__ = ["map_exception", "open_files_limit"]


def map_exception(exc: BaseException, req: HttpRequest) -> EpmmError | None:
    """The typed error for an exception aiohttp (or the socket under it) raised, or None for
    one that is not a transport failure (a cancellation, a bug): that one is re-raised."""
    m, p = req.method, req.path
    if isinstance(exc, aiohttp.ClientSSLError):
        return _tls_error(exc, req)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectError("connect timed out", method=m, path=p, sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_error(exc, req)
    if isinstance(exc, asyncio.TimeoutError):  # includes SocketTimeoutError
        return TimeoutError("timed out waiting for the answer", method=m, path=p, sent=True)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return TransportError(
            f"connection dropped mid-response ({type(exc).__name__})",
            method=m,
            path=p,
            sent=True,
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TransportError(
            f"transport failure ({type(exc).__name__})", method=m, path=p, sent=True
        )
    return None


# Reasons OpenSSL gives when the peer's first bytes are not a TLS record: it answered in
# plain text (an https:// URL to a plain-http port).
_NOT_TLS_REASONS = frozenset({
    "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE", "UNEXPECTED_RECORD",
})


def _tls_error(exc: aiohttp.ClientSSLError, req: HttpRequest) -> ConnectError:
    """The root cause of a failed TLS handshake: a refused certificate (the verifier's
    reason), a server that does not speak TLS, or the TLS library's reason. A handshake the
    peer cut (EOF) is a plain :class:`ConnectError`: it may pass on another try."""
    m, p = req.method, req.path
    where = f"{exc.host}:{exc.port}" if isinstance(exc, aiohttp.ClientConnectorError) else "?"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None)
        reason = str(reason or cert)
        return TlsError(
            f"the TLS certificate of {where} was refused: {reason} (trust the CA that signed "
            "it: verify='ca.pem')",
            method=m, path=p, reason=reason, certificate=True,
        )
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else None
    if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectError(
            f"{where} closed the connection during the TLS handshake", method=m, path=p,
            sent=False,
        )
    code = getattr(cause, "reason", None)
    reason = str(code or getattr(cause, "strerror", None) or cause or type(exc).__name__)
    if code in _NOT_TLS_REASONS:
        return TlsError(
            f"the server at {where} did not speak TLS ({reason}): is it a plain-http port? "
            "(use http:// for it, or the server's https port)",
            method=m, path=p, reason=reason, not_tls=True,
        )
    return TlsError(f"TLS handshake with {where} failed: {reason}", method=m, path=p,
                    reason=reason)


def open_files_limit() -> int | None:
    """This process's limit of open files (``RLIMIT_NOFILE``), or None when unlimited or
    not on Unix."""
    if resource is None:  # not on Unix
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def _connect_error(exc: aiohttp.ClientConnectorError, req: HttpRequest) -> ConnectError:
    """Why a connection could not be opened, in the operating system's words; running out of
    file descriptors (EMFILE) is said as such, with the process's limit."""
    m, p = req.method, req.path
    cause = exc.os_error
    number = cause.errno if isinstance(cause.errno, int) else None
    if number in (errno.EMFILE, errno.ENFILE):
        limit = open_files_limit()
        which = "this process" if number == errno.EMFILE else "the system"
        said = f" (at most {limit:,} open files: RLIMIT_NOFILE)" if limit is not None else ""
        return ConnectError(
            f"cannot open a connection to {exc.host}:{exc.port}: {which} ran out of file "
            f"descriptors ({errno.errorcode[number]}){said}; send fewer requests at once "
            "(a lower concurrency) or raise the limit (ulimit -n)",
            method=m, path=p, sent=False, errno=number, fd_limit=limit,
        )
    if isinstance(cause, socket.gaierror):
        reason = f"cannot resolve {exc.host}: {cause.strerror or cause}"
        return ConnectError(reason, method=m, path=p, sent=False, errno=number)
    if number is not None and number > 0:
        reason = os.strerror(number)
    else:
        reason = str(cause.strerror or cause)
    return ConnectError(
        f"cannot connect to {exc.host}:{exc.port}: {reason}", method=m, path=p, sent=False,
        errno=number,
    )
