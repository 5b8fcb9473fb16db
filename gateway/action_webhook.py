"""Rasa's action webhook served by the app with rasa_sdk's own executor.

Running the actions in this process means the embedding model and the stores are loaded once.
Status codes follow rasa_sdk's action server, which Rasa understands. Only Rasa may call it
(gateway.auth.rasa_only: loopback or the shared HOTLINE_ACTION_SECRET): the actions store work
orders and read citizens' orders.

The actions run on a thread of their own (ActionThread): their work is synchronous (the KB
search's embeddings, the router, repeat detection, database writes) and on the app's event loop
it held up every other request, the chat turns waiting for Rasa included (BENCHMARKS.md, "Chat
load").
"""

from __future__ import annotations

import asyncio
import threading
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


class ActionThread:
    """One daemon thread with its own event loop that runs every action call off the app's
    loop, one at a time as before (no action ever races another one)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="rasa-actions", daemon=True).start()
                self._loop = loop
            return self._loop

    async def run(self, executor: ActionExecutor, action_call: dict[str, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(executor.run(action_call), self._started())
        return await asyncio.wrap_future(future)


ACTIONS = ActionThread()


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
        result = await ACTIONS.run(executor, action_call)
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
