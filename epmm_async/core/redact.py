"""Take secrets out of URL-like text before it is shown in an error or a log. No I/O.

A base URL typed by hand may carry a password (``https://admin:PW@host``, or mistyped as
``https//admin:PW@host`` or ``admin:PW@host``) or a token in its query string
(``ftp://host/?token=PW``). Such text is often not a valid URL, so no URL parser is trusted
with it: :func:`redact_url` works on the characters and errs on the side of removing too
much. What it keeps is the scheme, the host and the path; what it removes is everything up
to the last ``@`` (user info: a password may itself hold ``@``, ``/``, ``?`` or ``#``), the
query string and the fragment, a non-numeric "port" (``https://admin:PW`` with the host
forgotten looks like a host and a port), and a ``;jsessionid=`` session id.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact_url", "redact_urls"]

REDACTED = "***"
"""What stands in the output for a part that was removed."""

# A scheme and the slashes after it, also without the colon ("https//") or with one slash
# ("https:/"): kept as they are.
_PREFIX = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*(?::/+|//+)")
# A word of free text that may be a URL: it has '//' or '@', or a query with a key=value.
_URLISH = re.compile(r"//|@|[?#]\S*=")
_WORD = re.compile(r"\S+")
# Tomcat's session id in a path parameter (a redirect to a login page often carries one).
_SESSION = re.compile(r"(;jsessionid=)[^/;]*", re.IGNORECASE)


def _redact_port(rest: str) -> str:
    """``host:port/path``: a port that is not a number is removed (it may be a password)."""
    slash = rest.find("/")
    authority, path = (rest, "") if slash == -1 else (rest[:slash], rest[slash:])
    if authority.startswith("["):  # an IPv6 literal: its colons are not a port
        close = authority.find("]")
        if close == -1:
            return rest
        host, port = authority[: close + 1], authority[close + 1 :]
        if not port.startswith(":"):
            return rest
        port = port[1:]
    else:
        host, sep, port = authority.partition(":")
        if not sep:
            return rest
    if port.isdigit() and port.isascii():
        return rest
    return f"{host}:{REDACTED}{path}"


def redact_url(text: str) -> str:
    """``text`` taken as one URL, well-formed or not, without user info, query or fragment.

    ``https://admin:PW@host/x?token=T#f`` becomes ``https://***@host/x``; the same holds for
    ``https//admin:PW@host``, ``admin:PW@host`` and text with spaces in it. When an ``@``
    comes after a ``?`` or ``#``, which part is the secret cannot be told, and nothing after
    the scheme is kept.
    """
    prefix_match = _PREFIX.match(text)
    start = prefix_match.end() if prefix_match else 0
    prefix, rest = text[:start], text[start:]
    at = rest.rfind("@")
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i != -1), default=-1)
    if at != -1:
        if cut != -1 and cut < at:
            return prefix + REDACTED
        rest = rest[at + 1 :]
        cut = min((i for i in (rest.find("?"), rest.find("#")) if i != -1), default=-1)
        prefix += REDACTED + "@"
    if cut != -1:
        rest = rest[:cut]
    return prefix + _redact_port(_SESSION.sub(rf"\g<1>{REDACTED}", rest))


def redact_urls(text: str) -> str:
    """Free text (a message, a log line) with every URL-like word passed through
    :func:`redact_url`. Words are split on whitespace, so a URL with spaces in it is only
    cleaned word by word: give a value known to be a URL to :func:`redact_url` instead."""
    return _WORD.sub(_redact_word, text)


# Punctuation around a URL in prose or a repr: "(http://h:8080)," or "'ftp://h'".
_LEADING = "([{<\"'"
_TRAILING = ")]}>\"',.;:!?"


def _redact_word(match: re.Match[str]) -> str:
    word = match.group()
    if not _URLISH.search(word):
        return word
    core = word.lstrip(_LEADING)
    head = word[: len(word) - len(core)]
    stripped = core.rstrip(_TRAILING)
    tail = core[len(stripped) :]
    return head + redact_url(stripped) + tail
