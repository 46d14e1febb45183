"""URLs in errors and logs never carry user info, a query string or a fragment.

A mistyped base URL (``https//admin:PW@host``, ``admin:PW@host``, ``ftp://host/?token=PW``)
used to be echoed whole in the ``ValidationError``, password included.
"""

from __future__ import annotations

import traceback

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from epmm_async import EpmmClient, ValidationError
from epmm_async.core.redact import REDACTED, redact_url, redact_urls

SECRET = "S3cretPW"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://admin:PW@host/mifs?token=T#frag", "https://***@host/mifs"),
        ("https//admin:PW@host", "https//***@host"),
        ("https:/admin:PW@host", "https:/***@host"),
        ("admin:PW@host", "***@host"),
        ("ftp://host/?token=PW", "ftp://host/"),
        ("ftp://host/x#PW", "ftp://host/x"),
        ("https://admin:PW@host:bad", "https://***@host:***"),
        ("https://admin:PW", "https://admin:***"),  # the host forgotten: PW looks like a port
        ("http://[::1", "http://[::1"),
        ("http://u:PW@[::1", "http://***@[::1"),
        ("http://[::1]:PW/x", "http://[::1]:***/x"),
        ("http://[::1]:8443/x", "http://[::1]:8443/x"),
        ("  https://admin:P W@host /x?y=1 ", "  https://***@host /x"),
        ("https://admin:p@ss/w?rd@host/x", "https://***"),  # '@' after '?': keep nothing
        ("https://host/?email=a@b", "https://***"),
        ("https://epmm.example.com:8443/mifs", "https://epmm.example.com:8443/mifs"),
        ("https://h/mifs/login.jsp;JSESSIONID=ABC12?x=1", "https://h/mifs/login.jsp;JSESSIONID=***"),
        ("/login;jsessionid=ABC/x?next=/y", "/login;jsessionid=***/x"),
        ("", ""),
        ("not a url", "not a url"),
    ],
)
def test_examples(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_free_text() -> None:
    text = "GET https://admin:PW@host/x?t=TOK failed; see ftp://h/?k=KEY, ok?"
    assert redact_urls(text) == "GET https://***@host/x failed; see ftp://h/, ok?"
    # Punctuation around a URL in prose or a repr stays outside it.
    assert redact_urls("(http://h:8080), 'ftp://h:21'") == "(http://h:8080), 'ftp://h:21'"
    assert redact_urls("no urls here, what?") == "no urls here, what?"


# -- property: the secret never survives, whatever the shape -----------------------------------

# The parts that may be shown are lower case; a secret always has an upper-case letter, so
# "no upper-case letter in the output" proves that no part of any secret survived.
_LOWER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_HOST = st.builds(".".join, st.lists(_LOWER, min_size=1, max_size=3)) | st.sampled_from(
    ["[::1]", "127.0.0.1", "[fe80::1%25eth0]"]
)
_SCHEME = st.sampled_from(["https", "http", "ftp", "ldap", "x-y+z.1"])
_PATH = st.sampled_from(["", "/", "/mifs", "/a/b/", "/a b"])
_PORT = st.sampled_from(["", ":443", ":8443", ":bad"])
_SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !$%&'()*+,;=~^@:/?#[]\\\"<>{}|`\t"


@st.composite
def _secret(draw: st.DrawFn, alphabet: str = _SECRET_CHARS) -> str:
    left = draw(st.text(alphabet=alphabet, max_size=10))
    right = draw(st.text(alphabet=alphabet, max_size=10))
    return left + draw(st.sampled_from("QWERTZ")) + right


# Each shape puts the secret where a password or token goes.
_SHAPES = [
    "{scheme}://{user}:{secret}@{host}{port}{path}",
    "{scheme}://{user}:{secret}@{host}{port}{path}?x=1#f",
    "{scheme}//{user}:{secret}@{host}{path}",
    "{scheme}:/{user}:{secret}@{host}{path}",
    "{scheme}:{user}:{secret}@{host}{path}",
    "{user}:{secret}@{host}{port}{path}",
    "{secret}@{host}",
    "//{user}:{secret}@{host}{path}",
    "{scheme}://{secret}@{host}{path}",
    "{scheme}://{user}:{secret}@{host}:bad",
    "{scheme}://{user}:{secret}@[::1",
    "{scheme}://{host}{port}{path}?token={secret}",
    "{scheme}://{host}{port}{path}?a=b&token={secret}&c=d",
    "{scheme}://{user}@{host}{path}?token={secret}",
    "{scheme}://{host}{path}#{secret}",
    "{host}{path}?token={secret}",
    "  {scheme}://{user}:{secret}@{host} {path} ",
]


@given(
    shape=st.sampled_from(_SHAPES),
    scheme=_SCHEME,
    user=_LOWER,
    host=_HOST,
    port=_PORT,
    path=_PATH,
    secret=_secret(),
)
@example(shape=_SHAPES[0], scheme="https", user="admin", host="h", port="", path="",
         secret="P@ss/w?rd#Q")
def test_secret_never_shown(
    shape: str, scheme: str, user: str, host: str, port: str, path: str, secret: str
) -> None:
    text = shape.format(scheme=scheme, user=user, host=host, port=port, path=path,
                        secret=secret)
    shown = redact_url(text)
    assert secret not in shown
    assert not any(c.isupper() for c in shown), (text, shown)


@given(scheme=_SCHEME, user=_LOWER, path=_PATH,
       secret=_secret(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ !$%&'()*+;=~^:?#[]"))
def test_host_forgotten_secret_never_shown(scheme: str, user: str, path: str,
                                           secret: str) -> None:
    # "https://admin:PW" (no '@') reads as host:port; a non-numeric port is removed. A '/' in
    # the secret would start the path and an '@' would end the user info, and what follows
    # either is shown: those cases cannot be told apart from a real path or host.
    shown = redact_url(f"{scheme}://{user}:{secret}{path}")
    assert not any(c.isupper() for c in shown), shown


@given(
    shape=st.sampled_from([s for s in _SHAPES if not s.startswith(" ")]),
    scheme=_SCHEME,
    user=_LOWER,
    host=_HOST.filter(lambda h: "%" not in h),
    port=_PORT,
    path=st.sampled_from(["", "/", "/mifs", "/a/b/"]),
    secret=_secret(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&'()*+,;=~^@:/?#[]"),
)
def test_secret_never_shown_in_free_text(
    shape: str, scheme: str, user: str, host: str, port: str, path: str, secret: str
) -> None:
    url = shape.format(scheme=scheme, user=user, host=host, port=port, path=path,
                       secret=secret)
    shown = redact_urls(f"request to {url} failed (attempt 2)")
    assert secret not in shown
    assert not any(c.isupper() for c in shown), (url, shown)
    assert shown.startswith("request to ") and shown.endswith(" failed (attempt 2)")


def test_marker_is_lower_case_free() -> None:
    assert not any(c.isupper() for c in REDACTED)


# -- the client never echoes a secret from a bad base URL ------------------------------------

BAD_BASE_URLS = [
    f"https//admin:{SECRET}@host",
    f"admin:{SECRET}@host",
    f"ftp://host/?token={SECRET}",
    f"https://admin:{SECRET}@host:bad",
    f"http://u:{SECRET}@[::1",
    f"http://[::1]:{SECRET}",
    f"https://admin:{SECRET}@",
    f"https:/admin:{SECRET}@host",
    f"https://admin:{SECRET}",
    f"ftp://admin:{SECRET}@host/",
    f"file:///etc/passwd?token={SECRET}",
    f"https://host:{SECRET}/",
    f"https //admin:{SECRET}@host",
    f"https://admin:{SECRET}@host /x",
    f"ldap://host/x?{SECRET}#{SECRET}",
    f"//admin:{SECRET}@host",
    f"http://:{SECRET}@host",
    f"https://admin:{SECRET}@host#frag",
    f"host/?token={SECRET}",
    f"mailto:{SECRET}@host",
    f"https://admin:{SECRET}@host/mifs?x=1",
]


@pytest.mark.parametrize("url", BAD_BASE_URLS)
def test_bad_base_url_error_has_no_secret(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        EpmmClient(url, username="u", password="p")
    shown = "".join(traceback.format_exception(info.value))
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in shown
    assert "base_url" in str(info.value)
