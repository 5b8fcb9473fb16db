"""/console/orders/{number}/edit: 编辑工单, the centre's form to correct an open order's request
text, address, category and citizen phone (workorders/edits.py, the same function as
`PATCH /api/v1/work-orders/{number}`). Linked from the order page and from the conversation in
人工服务.

Who: admin and operator. A department user gets 403 on its own orders and 404 on another's (as
on the order page); a manager 403. A refused save shows the form again with what was typed and a
Chinese message. The form holds the request text unmasked (the editor must see what they
change), so opening it is audited as a reveal when the text holds phone or ID numbers; the
phone field starts empty (the current number is shown masked, empty keeps it).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from accounts.roles import ROLE_LABELS
from accounts.users import Principal
from gateway.auth import audit_of, settings_of
from gateway.console_forms import EXPIRED, back_to, csrf_ok, render, signed_in, zh
from gateway.console_orders import EDITORS, NOT_FOUND, load
from gateway.workorders_api import actor_of
from hotline.privacy import mask_numbers
from workorders import edits, store
from workorders.config import default_config
from workorders.inputs import InvalidField
from workorders.model import WorkOrder, mask_phone
from workorders.states import NotPermitted, WorkOrderError

router = APIRouter(include_in_schema=False)

NOT_EDITOR = "只有坐席和管理员可以修改工单。"
# The fields the form shows filled in; it also carries them as loaded (was_*), and a save sends
# only those the operator changed, so it never reverts what someone else changed meanwhile.
FORM_FIELDS = ("request_text", "address", "category")


def _page(
    request: Request,
    user: Principal,
    csrf: str,
    order: WorkOrder,
    typed: dict[str, str] | None = None,
    *,
    status: int = 200,
    error: str = "",
) -> Response:
    """The form: the order's current values, or what was typed when a save was refused."""
    if typed is None:
        shown = {f: getattr(order, f) or "" for f in FORM_FIELDS}
        typed = {**shown, "citizen_phone": "", "note": "", **{f"was_{f}": shown[f] for f in shown}}
    values = typed
    context = {
        "user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf, "error": error,
        "number": order.number, "status_label": order.status, "values": values,
        "locked": order.status in edits.LOCKED,
        "phone_now": mask_phone(order.citizen_phone),
        "categories": sorted(default_config().category_by_name),
        "max_text": default_config().limits.request_text,
        "max_address": default_config().limits.address,
    }  # fmt: skip
    return render(request, "order_edit.html", context, status=status)


async def _order_for(request: Request, number: str) -> tuple[Principal, str, WorkOrder] | Response:
    """The signed-in editor and the order, or the page that refuses them."""
    session = await signed_in(request, f"/console/orders/{number}/edit")
    if isinstance(session, Response):
        return session
    user, csrf = session
    order = await asyncio.to_thread(load, settings_of(request).database_url, user, number)
    if order is None:
        return HTMLResponse(NOT_FOUND, status_code=404)
    return user, csrf, order


@router.get("/console/orders/{number}/edit")
async def edit_form(request: Request, number: str) -> Response:
    found = await _order_for(request, number)
    if isinstance(found, Response):
        return found
    user, csrf, order = found
    if user.role not in EDITORS:
        return HTMLResponse(f"<p>{NOT_EDITOR}</p>", status_code=403)
    if order.status in edits.LOCKED:
        return _page(request, user, csrf, order, status=409,
                     error=zh(edits.ClosedOrder(order.status)))  # fmt: skip
    if mask_numbers(order.request_text) != order.request_text:
        await asyncio.to_thread(audit_of, request, user, "order.reveal", order.number,
                                fields=["request_text"])  # fmt: skip
    return _page(request, user, csrf, order)


@router.post("/console/orders/{number}/edit")
async def edit_save(
    request: Request,
    number: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    request_text: Annotated[str, Form(max_length=4000)] = "",
    address: Annotated[str, Form(max_length=400)] = "",
    category: Annotated[str, Form(max_length=40)] = "",
    citizen_phone: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    was_request_text: Annotated[str, Form(max_length=4000)] = "",
    was_address: Annotated[str, Form(max_length=400)] = "",
    was_category: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    found = await _order_for(request, number)
    if isinstance(found, Response):
        return found
    user, expected, order = found
    typed = {"request_text": request_text, "address": address, "category": category,
             "citizen_phone": citizen_phone, "note": note, "was_request_text": was_request_text,
             "was_address": was_address, "was_category": was_category}  # fmt: skip
    if not csrf_ok(csrf, expected):
        return _page(request, user, expected, order, typed, status=403, error=EXPIRED)
    if user.role not in EDITORS:
        return HTMLResponse(f"<p>{NOT_EDITOR}</p>", status_code=403)
    changes = {f: typed[f] for f in FORM_FIELDS if _text(typed[f]) != _text(typed[f"was_{f}"])}
    if citizen_phone.strip():  # empty keeps the number (the form never holds it whole)
        changes["citizen_phone"] = citizen_phone
    url = settings_of(request).database_url
    try:
        saved, changed = await asyncio.to_thread(
            edits.edit, url, order.number, actor_of(user), changes, note
        )
    except WorkOrderError as exc:
        status = 422 if isinstance(exc, InvalidField) else 409
        status = 403 if isinstance(exc, NotPermitted) else status
        current = await asyncio.to_thread(store.get, url, order.number)
        return _page(request, user, expected, current, typed, status=status,
                     error=_message(exc))  # fmt: skip
    if not changed:
        return back_to(f"/console/orders/{saved.number}", "")
    await asyncio.to_thread(audit_of, request, user, "order.edit", saved.number, note=note or None,
                            changes=edits.described(changed))  # fmt: skip
    return back_to(f"/console/orders/{saved.number}", edits.EDIT)


def _message(exc: WorkOrderError) -> str:
    """A refusal in Chinese, naming the field by its label on the form."""
    if isinstance(exc, InvalidField):
        label = edits.FIELD_LABELS.get(exc.field, "修改说明" if exc.field == "note" else "")
        return f"{label}：{zh(exc).split(': ', 1)[-1]}" if label else zh(exc)
    return zh(exc)


def _text(value: str) -> str:
    """A form value as compared: browsers send a textarea's line breaks as CRLF."""
    return value.replace("\r\n", "\n").strip()
