"""``Credentials``: the account a client signs in with, never shown."""

from __future__ import annotations

import base64

from .errors import ValidationError

__all__ = ["Credentials"]


class Credentials:
    """HTTP Basic credentials. The password is never shown by ``repr``/``str``."""

    __slots__ = ("_header", "_secrets", "username")

    def __init__(self, username: str, password: str) -> None:
        """Check and keep the credentials as a ready ``Authorization`` header value."""
        if not isinstance(username, str) or not username:
            raise ValidationError("username must be a non-empty string")
        if not isinstance(password, str) or not password:
            raise ValidationError("password must be a non-empty string")
        if ":" in username:
            raise ValidationError("username must not contain ':' (HTTP Basic)")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = f"Basic {token}"
        # What must never be repeated back: the token and the password (longest first, so
        # the token is masked whole).
        self._secrets = tuple(sorted({token, password}, key=len, reverse=True))

    def header(self) -> str:
        """The ``Authorization`` header value (pre-emptive Basic auth)."""
        return self._header

    def scrub(self, text: str) -> str:
        """``text`` with this account's password and token masked: a server that echoes the
        request's ``Authorization`` header in an error page must not put it in errors."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("Credentials cannot be pickled")
