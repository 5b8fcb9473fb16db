"""Rasa's action webhook served by the app with rasa_sdk's own executor.

Running the actions in this process means the embedding model and the stores are loaded once.
Status codes follow rasa_sdk's action server, which Rasa understands. Only Rasa may call it
(gateway.auth.rasa_only: loopback or the shared HOTLINE_ACTION_SECRET): the actions store work
orders and read citizens' orders.
"""

from __future__ import annotations

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
        result = await executor.run(action_call)
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
