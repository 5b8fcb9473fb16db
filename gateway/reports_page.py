"""The managers' dashboard, /console/reports: the monthly report's figures (reports/) for a
chosen month, the same tables as `hotline report monthly` writes, with its charts inline.

Managers and admins only (the page shows every unit's figures). A month's report is built in a
worker thread and kept for a few minutes per process, so reloading the page is cheap.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accounts.roles import ROLE_LABELS, Role
from gateway.auth import settings_of
from gateway.console import TEMPLATES, session_of
from reports import tables
from reports.build import MonthlyReport, build_report
from reports.charts import draw_all
from reports.period import Month
from reports.render import basics

router = APIRouter(include_in_schema=False)
ROLES = (Role.MANAGER, Role.ADMIN)
CACHE_SECONDS = 300
_cache: dict[tuple[str, str], tuple[float, MonthlyReport, list[tuple[str, str]]]] = {}
_building = threading.Lock()  # matplotlib's pyplot is not thread-safe: one build at a time


def _build(url: str, month: Month) -> tuple[MonthlyReport, list[tuple[str, str]]]:
    with _building:
        return _build_once(url, month)


def _build_once(url: str, month: Month) -> tuple[MonthlyReport, list[tuple[str, str]]]:
    key = (url, month.label)
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1], hit[2]
    report = build_report(url, month, as_of=datetime.now(UTC))
    with tempfile.TemporaryDirectory() as tmp:
        charts = [
            (p.stem, base64.b64encode(p.read_bytes()).decode()) for p in draw_all(report, Path(tmp))
        ]
    _cache[key] = (time.monotonic(), report, charts)
    return report, charts


@router.get("/console/reports")
async def reports_page(request: Request, month: str | None = None) -> Response:
    """月度通报 of `month` (YYYY-MM; default the last complete month)."""
    session = await session_of(request)
    if session is None:
        return RedirectResponse("/login?next=/console/reports", status_code=303)
    user, csrf = session
    if user.role not in ROLES:
        return HTMLResponse("<p>统计报表仅供管理人员和管理员查看。</p>", status_code=403)
    settings = settings_of(request)
    this = Month.parse(datetime.now(UTC).astimezone(Month.parse("2000-01", settings.timezone).tz)
                       .strftime("%Y-%m"), settings.timezone)  # fmt: skip
    try:
        chosen = Month.parse(month, settings.timezone) if month else this.previous()
    except ValueError as exc:
        return HTMLResponse(f"<p>{exc}</p>", status_code=400)
    report, charts = await asyncio.to_thread(_build, settings.database_url, chosen)
    context: dict[str, Any] = {
        "user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf, "report": report,
        "basics": basics(report), "charts": charts, "month": chosen.label,
        "sections": [(title, *fn(report)) for title, fn in tables.SECTIONS],
    }  # fmt: skip
    page = TEMPLATES.TemplateResponse(request, "reports.html", context)
    page.headers["Cache-Control"] = "no-store"
    return page
