"""/console/users: the admins' page for accounts (list, add, disable/enable, reset a password),
on the same functions as `hotline users` (accounts/users.py); every change is audited. Forms
carry the session's CSRF token; an admin cannot disable their own account (no lock-out)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from accounts import users
from accounts.roles import ROLE_LABELS, Role
from accounts.users import Principal
from gateway.auth import audit_of, settings_of
from gateway.console_forms import EXPIRED, back_to, csrf_ok, flash, render, signed_in
from workorders.config import default_config

router = APIRouter(include_in_schema=False)


async def _admin(request: Request) -> tuple[Principal, str] | Response:
    session = await signed_in(request, "/console/users")
    if isinstance(session, Response):
        return session
    if session[0].role is not Role.ADMIN:
        return HTMLResponse("<p>用户管理页面仅供管理员使用。</p>", status_code=403)
    return session


async def _page(request: Request, user: Principal, csrf: str, *, status: int = 200,
                error: str = "", done: str = "") -> Response:  # fmt: skip
    accounts = await asyncio.to_thread(users.list_users, settings_of(request).database_url)
    context = {
        "user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf, "error": error,
        "done": done, "accounts": accounts, "roles": ROLE_LABELS,
        "departments": sorted(default_config().all_departments),
    }  # fmt: skip
    return render(request, "users.html", context, status=status)


@router.get("/console/users")
async def users_page(request: Request, done: str = "") -> Response:
    session = await _admin(request)
    if isinstance(session, Response):
        return session
    return await _page(request, *session, done=flash(done))


async def _change(request: Request, csrf: str, done: str, action: str, target: str,
                  change: Callable[..., object], *args: object,
                  not_self: bool = False) -> Response:  # fmt: skip
    """Run one accounts function; the page again with a Chinese message when it is refused."""
    session = await _admin(request)
    if isinstance(session, Response):
        return session
    user, expected = session
    if not csrf_ok(csrf, expected):
        return await _page(request, user, expected, status=403, error=EXPIRED)
    if not_self and target == user.name:
        return await _page(request, user, expected, status=422, error="不能停用自己的账号。")
    url = settings_of(request).database_url
    try:
        await asyncio.to_thread(change, url, *args)
    except users.AccountError as exc:
        return await _page(request, user, expected, status=422, error=str(exc))
    await asyncio.to_thread(audit_of, request, user, action, target)
    return back_to("/console/users", done)


@router.post("/console/users")
async def add(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    department: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    name = name.strip()
    return await _change(request, csrf, f"已添加账号 {name}", "user.add", name, users.add_user,
                         name, role, password, department or None)  # fmt: skip


@router.post("/console/users/{name}/active")
async def set_active(
    request: Request,
    name: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    enable = active == "true"
    done = f"已{'启用' if enable else '停用'}账号 {name}"
    action = "user.enable" if enable else "user.disable"
    return await _change(request, csrf, done, action, name, users.set_active, name, enable,
                         not_self=not enable)  # fmt: skip


@router.post("/console/users/{name}/password")
async def reset_password(
    request: Request,
    name: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    return await _change(request, csrf, f"已重置 {name} 的密码", "user.reset_password", name,
                         users.reset_password, name, password)  # fmt: skip
