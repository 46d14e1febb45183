"""Split device ids into requests that respect the uuid count AND the request-line budget.

Pure functions: the size of each request is computed exactly as the request builder encodes
it (``ApiRequest.request_line_length``), so a planned chunk never trips a 414.
"""

from __future__ import annotations

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
    fixed = one.request_line_length(base_path) - _param_cost(one, ids[0])
    chunk: list[str] = []
    used = fixed
    for item in ids:
        cost = _param_cost(one, item)
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


def _param_cost(req: ApiRequest, item: str) -> int:
    # "name=quoted(item)" for the repeated device parameter of this request.
    name = req.query.rsplit("&", 1)[-1].split("=", 1)[0] if req.query else ""
    return len(encode_query([(name, item)]).encode())
