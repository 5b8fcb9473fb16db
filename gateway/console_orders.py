"""/console/orders/{number}: one order's page (details, SLA countdowns, timeline with
attachments) and its action forms for the signed-in role; the forms post here with the session's
CSRF token, act through the same `store.transition` as the API, and come back to the page.

A department user sees its own department's orders only (another's answers 404, as an unknown
number does); a manager reads and changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from accounts.roles import REVEAL, ROLE_LABELS, Role
from accounts.users import Principal
from gateway import followups, order_view
from gateway.auth import audit_of, settings_of
from gateway.console_forms import EXPIRED, back_to, csrf_ok, flash, render, signed_in, zh
from gateway.errors import RowId
from gateway.workorders_api import actor_of
from hotline.settings import Settings
from workorders import attachments, edits, followup, store
from workorders.config import default_config
from workorders.model import WorkOrder
from workorders.states import ACTION_EN, SATISFACTION, Action, WorkOrderError, parse_action

router = APIRouter(include_in_schema=False)

# Who may correct an order's fields (编辑工单, gateway/console_order_edit.py).
EDITORS = frozenset({Role.ADMIN, Role.OPERATOR})
NOT_FOUND = (
    "<p>没有这个工单，或该工单不属于您的部门。</p><p><a href='/console'>返回工单列表</a></p>"
)


def load(url: str, user: Principal, number: str) -> WorkOrder | None:
    """The order if this user may see it (a department its own only)."""
    try:
        order = store.get(url, number)
    except WorkOrderError:
        return None
    if user.role is Role.DEPARTMENT and order.department != user.department:
        return None
    return order


def _page(
    request: Request,
    user: Principal,
    csrf: str,
    order: WorkOrder,
    *,
    status: int = 200,
    error: str = "",
    done: str = "",
    reveal: bool = False,
) -> Response:
    settings = settings_of(request)
    url, zone, now = settings.database_url, ZoneInfo(settings.timezone), datetime.now(UTC)
    events = store.timeline(url, order.number)
    files = attachments.listed(url, order.number)
    cfg = default_config()
    context = {
        "user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf,
        "order": order.to_dict(now=now, reveal=reveal),
        "clocks": order_view.clocks(order, now, zone),
        "may_reveal": user.role in REVEAL and not reveal and bool(order.citizen_phone),
        "steps": order_view.steps(events, files, zone),
        "actions": order_view.actions_for(user, order), "error": error, "done": done,
        "editable": user.role in EDITORS and order.status not in edits.LOCKED,
        "departments": sorted(cfg.all_departments), "categories": sorted(cfg.category_by_name),
        "satisfaction": SATISFACTION,
        "max_kb": settings.attachment_max_bytes // 1024,
        "max_extension_days": cfg.deadlines.max_extension_days,  # the server's own limit
        "created_local": order.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    page = render(request, "order.html", context, status=status)
    if reveal:
        page.headers["Cache-Control"] = "no-store"
    return page


@router.get("/console/orders/{number}")
async def order_page(
    request: Request, number: str, done: str = "", reveal: bool = False
) -> Response:
    """An order; `reveal`: its contact data unmasked (a callback order exists to be called
    back), for the roles that handle orders, and audited as the API's reveal is."""
    session = await signed_in(request, f"/console/orders/{number}")
    if isinstance(session, Response):
        return session
    user, csrf = session
    if reveal and user.role not in REVEAL:
        return HTMLResponse("<p>管理人员不能查看市民的完整联系方式。</p>", status_code=403)
    url = settings_of(request).database_url
    order = await asyncio.to_thread(load, url, user, number)
    if order is None:
        return HTMLResponse(NOT_FOUND, status_code=404)
    if reveal:
        fields = [
            f for f in ("citizen_name", "citizen_phone", "wechat_openid") if getattr(order, f)
        ]
        await asyncio.to_thread(audit_of, request, user, "order.reveal", order.number,
                                fields=fields)  # fmt: skip
    shown = flash(done, {a.value for a in Action} | {edits.EDIT})
    return await asyncio.to_thread(_page, request, user, csrf, order, done=shown, reveal=reveal)


@router.post("/console/orders/{number}/act")
async def order_act(
    request: Request,
    number: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    action: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    days: Annotated[str, Form(max_length=4)] = "",
    department: Annotated[str, Form(max_length=80)] = "",
    category: Annotated[str, Form(max_length=40)] = "",
    satisfaction: Annotated[str, Form(max_length=8)] = "",
    into: Annotated[str, Form(max_length=40)] = "",
    files: Annotated[list[UploadFile] | None, Form()] = None,
) -> Response:
    """One action from the order page: 4xx with the page and a Chinese message on bad input."""
    session = await signed_in(request, f"/console/orders/{number}")
    if isinstance(session, Response):
        return session
    user, expected = session
    settings = settings_of(request)
    url = settings.database_url
    order = await asyncio.to_thread(load, url, user, number)
    if order is None:
        return HTMLResponse(NOT_FOUND, status_code=404)
    if not csrf_ok(csrf, expected):
        return await asyncio.to_thread(_page, request, user, expected, order, status=403,
                                       error=EXPIRED)  # fmt: skip
    if order_view.order_role(user) is None:
        return await asyncio.to_thread(_page, request, user, expected, order, status=403,
                                       error="您的角色只能查看工单，不能办理。")  # fmt: skip
    uploads = [
        attachments.Upload(f.filename or "", f.content_type or "", await f.read(
            settings.attachment_max_bytes + 1)) for f in files or []
    ]  # fmt: skip
    fields = {"days": days, "department": department, "category": category,
              "satisfaction": satisfaction, "into": into}  # fmt: skip
    try:
        act = parse_action(action)
        done = await asyncio.to_thread(
            _apply, settings, user, order.number, act, note.strip() or None, fields, uploads
        )
    except WorkOrderError as exc:
        status = 403 if isinstance(exc, PermissionError) else 409
        if isinstance(exc, store.InvalidField):
            status = 422
        current = await asyncio.to_thread(store.get, url, order.number)
        return await asyncio.to_thread(_page, request, user, expected, current, status=status,
                                       error=zh(exc))  # fmt: skip
    except ValueError as exc:
        return await asyncio.to_thread(_page, request, user, expected, order, status=422,
                                       error=zh(exc))  # fmt: skip
    if act is Action.CLOSE:  # 办结 answers the citizen: the 回访 starts on their channel
        await followups.start(settings, order.number)
    audit_of(request, user, f"order.{ACTION_EN[act]}", order.number, note=note or None,
             data={k: v for k, v in fields.items() if v}, files=done)  # fmt: skip
    return back_to(f"/console/orders/{order.number}", act.value)


# What each action takes from the form besides the note (the rest is ignored).
_INPUTS: dict[Action, tuple[str, ...]] = {
    Action.DISPATCH: ("department", "category"),
    Action.REQUEST_EXTENSION: ("days",),
    Action.APPROVE_EXTENSION: ("days",),
    Action.VISIT: ("satisfaction",),
    Action.MERGE: ("into",),
}


def _apply(
    settings: Settings,
    user: Principal,
    number: str,
    act: Action,
    note: str | None,
    fields: dict[str, str],
    uploads: list[attachments.Upload],
) -> int:
    """Check the files, apply the action, attach the files to its step; returns the file count."""
    url = settings.database_url
    checked = attachments.check(uploads, settings.attachment_max_bytes)
    data: dict[str, Any] = {k: fields[k] for k in _INPUTS.get(act, ()) if fields.get(k)}
    if act is Action.VISIT:  # a phone 回访 an operator records: 不满意 reopens, as in chat
        followup.rate(url, number, fields.get("satisfaction", ""), note, "电话")
    else:
        store.transition(url, number, act, actor_of(user), note, **data)
    if checked:
        attachments.attach(url, number, checked, actor_of(user).label)
    return len(checked)


@router.get("/console/orders/{number}/attachments/{attachment_id}")
async def attachment(request: Request, number: str, attachment_id: RowId) -> Response:
    session = await signed_in(request, f"/console/orders/{number}")
    if isinstance(session, Response):
        return session
    user, _ = session
    url = settings_of(request).database_url
    order = await asyncio.to_thread(load, url, user, number)
    if order is None:
        return HTMLResponse(NOT_FOUND, status_code=404)
    try:
        row = await asyncio.to_thread(attachments.fetch, url, order.number, attachment_id)
    except WorkOrderError:
        return HTMLResponse(NOT_FOUND, status_code=404)
    return Response(
        row.content,
        media_type="application/octet-stream",  # never rendered inline: no stored HTML runs here
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
