"""`python -m gateway.app_server`: the app under uvicorn, as `hotline serve` and `hotline cluster`
run it (instead of `uvicorn gateway.app:main_app --factory`, with the same options).

Why not plain uvicorn: on SIGTERM uvicorn's `Server.shutdown` closes its port and then, at
once, every websocket with 1012 (service restart); the app's lifespan shutdown runs only after
every connection has gone. A phone call on WS /voice/ws was cut without a word and stored as a
hang-up, and every turn in flight lost its Rasa custom action, which calls this app back.
`AppServer.shutdown` first refuses new work with the port still open (gateway/draining.py: new
requests get 503, Rasa's action calls still pass), hands the calls over (gateway/voice_ws.py
`hand_over`: each caller hears the SHUTDOWN prompt and gets the `end` event and a normal close),
waits for the requests in flight, and only then lets uvicorn close the port and go on, with
what is left of the graceful timeout (HOTLINE_SHUTDOWN_SECONDS).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import sys
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from gateway import voice_ws
from gateway.app import main_app
from gateway.draining import Drain
from hotline.settings import KEEP_ALIVE_SECONDS

STARTUP_FAILURE = 3  # uvicorn's own exit status when the app does not start


class AppServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.app: FastAPI | None = None  # set by the factory, once uvicorn has built it

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own shutdown closes the websockets (1012) first and the lifespan last: the
        # calls are handed over here, before it (the module's docstring says more)
        if self.app is not None and not self.force_exit:
            await self._hand_over_calls(self.app)
        await super().shutdown(sockets)

    async def _hand_over_calls(self, app: FastAPI) -> None:
        # The port stays open meanwhile: the calls' last turns and the chat turns in flight
        # need Rasa's custom actions, which call this app back (gateway/draining.py); new
        # requests are refused with 503, new WS calls with the `end` event.
        began = time.monotonic()
        drain: Drain = app.state.drain
        drain.stopping.set()
        budget = self.config.timeout_graceful_shutdown
        handing = asyncio.ensure_future(voice_ws.hand_over(app, budget))
        await self._unless_forced(handing)
        left = None if budget is None else budget - (time.monotonic() - began)
        await self._unless_forced(asyncio.ensure_future(drain.idle(left)))
        if budget is not None:  # the whole stop stays within the graceful timeout
            left = budget - (time.monotonic() - began)
            self.config.timeout_graceful_shutdown = max(1, math.ceil(left))

    async def _unless_forced(self, task: asyncio.Future[Any]) -> None:
        while not task.done() and not self.force_exit:  # a second Ctrl-C: no more waiting
            await asyncio.wait({task}, timeout=0.1)
        task.cancel()


def run(host: str, port: int, forwarded_allow_ips: str, graceful_seconds: int) -> None:
    server: AppServer

    def factory() -> FastAPI:
        server.app = main_app()
        return server.app

    config = uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = AppServer(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.app_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=10)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.forwarded_allow_ips, args.timeout_graceful_shutdown)


if __name__ == "__main__":
    main()
