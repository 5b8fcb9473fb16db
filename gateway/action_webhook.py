"""Rasa's action webhook served by the app with rasa_sdk's own executor.

Running the actions in this process means the embedding model and the stores are loaded once.
Status codes follow rasa_sdk's action server, which Rasa understands. Only Rasa may call it
(gateway.auth.rasa_only: loopback or the shared HOTLINE_ACTION_SECRET): the actions store work
orders and read citizens' orders.

The actions run on a few threads of their own (ActionThreads): their work is synchronous (the
KB search's embeddings, the router, repeat detection, database writes) and on the app's event
loop it held up every other request, the chat turns waiting for Rasa included (BENCHMARKS.md,
"Chat load").
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from gateway.auth import rasa_only
from gateway.metrics import ACTION_CALLS

router = APIRouter(tags=["rasa actions"], dependencies=[Depends(rasa_only)])


class ActionThreads:
    """A pool of `workers` threads, each with its own event loop, that run the action calls off
    the app's loop. With one thread the calls queued behind each other: at 120 chat sessions an
    action waited 366 ms at p95 before it began, most of the turn's latency, while the cores were
    half idle (the embedding model releases the GIL, so one call's search overlaps another's
    Python). Two calls running at once always belong to different conversations (Rasa holds a
    conversation's lock for its whole turn), and what they share is safe to share: the models
    and caches load under locks, the stores write in transactions, the action objects keep no
    state between calls (BENCHMARKS.md "Chat load", session 13)."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rasa-actions")
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []  # closed by close()

    def _run(self, executor: ActionExecutor, action_call: dict[str, Any]) -> Any:
        loop = getattr(self._local, "loop", None)
        if loop is None:  # one loop per thread, kept: the actions' clients may be bound to it
            loop = self._local.loop = asyncio.new_event_loop()
            self._loops.append(loop)
        return loop.run_until_complete(executor.run(action_call))

    def close(self) -> None:
        """After the calls in flight: the threads end and their loops are closed."""
        self._pool.shutdown(wait=True)
        for loop in self._loops:
            loop.close()
        self._loops.clear()

    async def run(self, executor: ActionExecutor, action_call: dict[str, Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._run, executor, action_call
        )


def make_executor() -> ActionExecutor:
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor


@router.post("/webhook")
async def webhook(request: Request) -> JSONResponse:
    executor: ActionExecutor = request.app.state.executor
    try:
        action_call: dict[str, Any] = await request.json()
    except ValueError:
        return JSONResponse({"error": "request body is not valid JSON"}, status_code=400)
    name = str(action_call.get("next_action"))
    try:
        result = await request.app.state.actions.run(executor, action_call)
    except ActionExecutionRejection as exc:
        ACTION_CALLS.labels(name, "rejected").inc()
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, 400)
    except ActionNotFoundException as exc:
        ACTION_CALLS.labels(name, "not_found").inc()
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, 404)
    except ActionMissingDomainException as exc:
        ACTION_CALLS.labels(name, "missing_domain").inc()
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, 449)
    ACTION_CALLS.labels(name, "ok").inc()
    return JSONResponse(result.model_dump() if result else None)


@router.get("/actions")
async def list_actions(request: Request) -> list[dict[str, Any]]:
    executor: ActionExecutor = request.app.state.executor
    return [item.model_dump() for item in executor.list_actions()]
