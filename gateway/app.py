"""The app process: channels, REST API, pages and the Rasa action webhook in one FastAPI app."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway import (
    action_webhook,
    api_docs,
    attachments_api,
    auth,
    calls_api,
    chat_api,
    chat_feed,
    console,
    console_order_edit,
    console_orders,
    console_users,
    followups,
    handoffs_api,
    health,
    knowledge_api,
    pages,
    reports_page,
    triage_api,
    voice_ws,
    wechat_api,
    workorders_api,
)
from gateway.body_limit import BodyLimit
from gateway.db_unavailable import database_unavailable
from gateway.draining import Drain, Draining
from gateway.errors import validation_error
from gateway.rasa_client import RasaClient
from gateway.replica_header import ReplicaHeader
from handoffs import live
from hotline import db
from hotline.logging import configure_logging
from hotline.settings import Settings, get_settings
from knowledge.service import get_service, import_sample_if_empty
from speech.audiosocket import AudioSocketServer
from speech.calls import CallCenter
from workorders import followup, intake, sla

log = logging.getLogger(__name__)


async def _scan_sla(database_url: str, every: float, followup_hours: float) -> None:
    """Record 催办 reminders and close unrated 回访 as 未回访 periodically; a failed scan is
    logged and retried next time."""
    while True:
        try:
            await asyncio.to_thread(sla.scan, database_url)
            await asyncio.to_thread(followup.expire, database_url, timedelta(hours=followup_hours))
        except Exception:
            log.exception("SLA scan failed")
        await asyncio.sleep(every)


def _check_router(settings: Settings) -> None:
    """Say at start when the configured router cannot be used (HOTLINE_ROUTER_DIR wrong or
    outdated): orders are then stored unrouted, and /health reports it, until it is fixed."""
    state = intake.router_state(settings)
    if state["status"] != "ok":
        log.error("智能派单 router unusable, orders stay unrouted: %s", state.get("error"))


def _preload(settings: Settings) -> None:
    """Model, index and router load in the background; the first request waits for them."""
    try:
        get_service(settings).refresh()
    except Exception:
        log.exception("knowledge index failed to load")
    try:
        intake.process_router(settings)
    except Exception:
        log.exception("智能派单 router failed to load; orders stay unrouted")


async def _start_audiosocket(center: CallCenter, settings: Settings) -> AudioSocketServer | None:
    if not settings.audiosocket_port:
        return None
    server = AudioSocketServer(center, settings.audiosocket_host, settings.audiosocket_port)
    await server.start()
    center.warm_up_soon()  # engines and prompts ready before the first call
    return server


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.upgrade(settings.database_url)  # idempotent; the schema is always current
        import_sample_if_empty(settings.database_url)
        app.state.rasa = RasaClient(
            settings.rasa_url, settings.rasa_timeout, settings.rasa_retry_seconds
        )
        _check_router(settings)
        if settings.knowledge_preload:
            threading.Thread(target=_preload, args=(settings,), daemon=True).start()
        scanner = None
        if settings.sla_scan_seconds > 0:
            scanner = asyncio.create_task(
                _scan_sla(settings.database_url, settings.sla_scan_seconds, settings.followup_hours)
            )
        # Phone calls: WS /voice/ws always; the AudioSocket listener when a port is set.
        if getattr(app.state, "calls", None) is None:  # tests may give their own engines
            app.state.calls = calls_api.make_call_center(settings, lambda: app.state.rasa)
        audiosocket = await _start_audiosocket(app.state.calls, settings)
        if settings.redis_url:  # operators' screens and chat pages across replicas
            await live.hub().connect(settings.redis_url)
        yield
        await live.hub().close()
        # Live calls are told and transferred (speech/calls.py). WS calls were, before uvicorn
        # closed the websockets, when it runs as gateway/app_server.py: here is too late for them.
        app.state.calls.shut_down()
        if audiosocket:
            await audiosocket.stop(grace=settings.shutdown_seconds)
        app.state.calls.close()
        if scanner:
            scanner.cancel()
        await app.state.rasa.close()
        await asyncio.to_thread(app.state.actions.close)

    app = FastAPI(
        title="12345 政务服务便民热线 front door",
        version="0.1.0",
        description="Chat, work orders and knowledge API of the 12345 hotline front door.",
        lifespan=lifespan,
        docs_url=None,  # gateway/api_docs.py serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, action_limit=settings.max_action_body_bytes
    )
    app.state.drain = Drain()  # requests in flight, finished before a stop closes the port
    app.add_middleware(Draining, drain=app.state.drain)
    if settings.replica:
        app.add_middleware(ReplicaHeader, name=settings.replica)
    app.state.executor = action_webhook.make_executor()
    app.state.actions = action_webhook.ActionThreads(settings.action_workers)
    app.state.voice_lines = voice_ws.Lines()  # the WS calls, handed over when stopping
    for unavailable in (DBAPIError, PoolTimeout):  # 503 + Retry-After
        app.add_exception_handler(unavailable, database_unavailable)
    app.add_exception_handler(
        RequestValidationError,
        validation_error,  # type: ignore[arg-type]  # starlette's stub takes any-Exception handlers
    )
    routers = (auth, chat_api, chat_feed, knowledge_api, triage_api, workorders_api,
               attachments_api, handoffs_api, action_webhook, health)  # fmt: skip
    pages_ = (pages, console, console_orders, console_order_edit, followups, console_users,
              reports_page)  # fmt: skip
    for module in (*routers, *pages_, calls_api, voice_ws, wechat_api):
        app.include_router(module.router)
    app.include_router(auth.audit_router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    app.mount(api_docs.ASSETS_URL, api_docs.assets(), name="docs-assets")
    return app


def main_app() -> FastAPI:
    """The app of `hotline serve` (gateway/app_server.py); `uvicorn gateway.app:main_app
    --factory` serves it too, without handing WS calls over when stopping."""
    configure_logging("app")
    return create_app()
