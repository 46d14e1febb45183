"""Split device ids into requests that respect the uuid count AND the request-line budget.

Pure functions: the size of each request is computed exactly as the request builder encodes
it (``ApiRequest.request_line_length``), so a planned chunk never trips a 414.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from ..core.requests import ApiRequest, encode_query
from ..errors import ValidationError

__all__ = ["plan_chunks"]


def plan_chunks(
    ids: Sequence[str],
    build: Callable[[Sequence[str]], ApiRequest],
    *,
    max_ids: int,
    max_request_line: int | None,
    base_path: str = "",
) -> Iterator[list[str]]:
    """Greedy chunks of ``ids`` (in order), each within ``max_ids`` and ``max_request_line``.

    ``build`` makes the request for a chunk; its fixed cost (method, path, other parameters)
    is measured once with one id, and each further id adds ``&name=value``. Greedy packing
    of equal-sized ids is optimal: no plan needs fewer requests. ``max_request_line=None``
    (form bodies) budgets by count only.
    """
    if max_ids < 1:
        raise ValidationError("max_ids must be at least 1")
    if not ids:
        return
    if max_request_line is None:
        for start in range(0, len(ids), max_ids):
            yield list(ids[start : start + max_ids])
        return
    one = build([ids[0]])
    # "name=" of the repeated device parameter: the last one in the query.
    name_cost = len(one.query.rsplit("&", 1)[-1].split("=", 1)[0]) + 1 if one.query else 0
    fixed = one.request_line_length(base_path) - name_cost - _quoted_length(ids[0])
    chunk: list[str] = []
    used = fixed
    for item in ids:
        cost = name_cost + _quoted_length(item)
        extra = cost if not chunk else cost + 1  # '&' between parameters
        if chunk and (len(chunk) >= max_ids or used + extra > max_request_line):
            yield chunk
            chunk, used = [], fixed
            extra = cost
        if not chunk and fixed + cost > max_request_line:
            raise ValidationError(
                f"a single device id does not fit the {max_request_line}-byte request line"
            )
        chunk.append(item)
        used += extra
    if chunk:
        yield chunk


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted_length(item: str) -> int:
    # Bytes of the item once percent-quoted as the request builder quotes it; a uuid or MAC
    # is all unreserved characters, so the common case skips quoting.
    if _UNRESERVED.fullmatch(item):
        return len(item)
    return len(encode_query([("", item)])) - 1
