"""GET /health (each dependency's state) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from gateway.rasa_client import RasaClient, RasaUnavailable
from gateway.wechat_api import state as wechat_state
from handoffs import live
from hotline.db import current_revision, engine_for
from hotline.settings import Settings
from knowledge.service import get_service
from workorders.intake import router_state

router = APIRouter(tags=["operations"])


def _database_state(url: str) -> dict[str, Any]:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"status": "down", "backend": engine.dialect.name, "error": str(exc)[:200]}
    return {"status": "ok", "backend": engine.dialect.name, "revision": current_revision(url)}


async def _rasa_state(rasa: RasaClient) -> dict[str, Any]:
    try:
        status = await rasa.status()
    except RasaUnavailable as exc:
        # chat and WeChat turns are answered by the triage layer meanwhile (gateway/fallback.py)
        return {"status": "down", "url": rasa.base_url, "error": str(exc), "fallback": "triage"}
    return {"status": "ok", "url": rasa.base_url, "model_id": status.get("model_id")}


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    rasa, database = await asyncio.gather(
        _rasa_state(request.app.state.rasa),
        asyncio.to_thread(_database_state, settings.database_url),
    )
    deps: dict[str, dict[str, Any]] = {
        "rasa": rasa,
        "database": database,
        "knowledge": get_service(settings).state(),
        "router": router_state(settings),  # which 智能派单 router orders are routed with
    }
    if settings.redis_url:  # live events across replicas (handoffs/live.py)
        deps["redis"] = live.hub().state()
    ok = all(d["status"] == "ok" for d in deps.values())
    body = {"status": "ok" if ok else "degraded", "dependencies": deps,
            "channels": {"wechat": wechat_state(settings)}}  # fmt: skip
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
