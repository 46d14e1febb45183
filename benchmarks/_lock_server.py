"""A tiny aiohttp server answering every request with the lock JSON at once (child process
of the per-request overhead benchmark): ``python -m benchmarks._lock_server PORT``."""

from __future__ import annotations

import sys

from aiohttp import web

BODY = (b'{"messages":{"message":"Device is locked successfully."},'
        b'"deviceUuid":"727afb16-327f-40cf-bf34-fd2fee389193"}')


async def answer(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None,
                access_log=None, handle_signals=True)


if __name__ == "__main__":
    main()
