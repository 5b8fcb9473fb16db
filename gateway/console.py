"""Staff pages: the Chinese sign-in page, sign-out, and /console, the signed-in landing page
(work orders with filters, SLA colours and countdowns; a department's staff see their own
department's; an order's page is gateway/console_orders.py).

The session is an HttpOnly, SameSite=Lax cookie holding an opaque token (accounts/tokens.py),
Secure when the app is served over HTTPS, expiring after HOTLINE_SESSION_MINUTES. Every
state-changing form carries a CSRF token: the sign-in form a double-submit cookie (there is no
session yet), later forms the session's own token.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from accounts import tokens
from accounts.roles import ROLE_LABELS, Role
from accounts.users import Principal
from gateway import order_view
from gateway.auth import SESSION_COOKIE, SignInRefused, audit_of, settings_of, sign_in
from handoffs import presence
from hotline.zh import CHANNEL_LABELS
from workorders import store
from workorders.config import default_config
from workorders.queries import OrderFilter
from workorders.states import Status

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
TEMPLATES.env.globals["channel_labels"] = CHANNEL_LABELS
router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "hotline_login_csrf"
WARNINGS = (("none", "正常"), ("yellow", "黄色预警"), ("orange", "橙色预警"), ("red", "已超期"))
WRONG = "账号或密码错误。"
LOCKED = "登录失败次数过多，账号或本机已被暂时锁定，请稍后再试。"
EXPIRED = "页面已过期，请重新登录。"
PAGE_SIZE = 100


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no //host or scheme): no open redirect after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _login_page(
    request: Request,
    status: int = 200,
    *,
    error: str = "",
    notice: str = "",
    username: str = "",
    target: str = "/console",
) -> Response:
    csrf = secrets.token_urlsafe(24)
    context = {"error": error, "notice": notice, "csrf": csrf, "next": target,
               "username": username}  # fmt: skip
    page = TEMPLATES.TemplateResponse(request, "login.html", context, status_code=status)
    page.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True, samesite="strict",
                    secure=settings_of(request).secure_cookies, path="/login")  # fmt: skip
    page.headers["Cache-Control"] = "no-store"
    return page


async def session_of(request: Request) -> tuple[Principal, str] | None:
    """The signed-in user of the session cookie and the session's CSRF token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await asyncio.to_thread(
        tokens.resolve, settings_of(request).database_url, cookie, "session"
    )
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    if await session_of(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, target=_safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=300)] = "/console",
) -> Response:
    target = _safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not csrf or not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _login_page(request, 403, error=EXPIRED, username=username, target=target)
    try:
        user = await sign_in(request, username, password)
    except SignInRefused as exc:
        status, error = (429, LOCKED) if exc.locked else (401, WRONG)
        return _login_page(request, status, error=error, username=username, target=target)
    settings = settings_of(request)
    lifetime = timedelta(minutes=settings.session_minutes)
    secret, _ = await asyncio.to_thread(
        tokens.issue, settings.database_url, user, "session", lifetime
    )
    await asyncio.to_thread(audit_of, request, user, "user.sign_in", user.name)
    done = RedirectResponse(target, status_code=303)
    done.set_cookie(SESSION_COOKIE, secret, max_age=int(lifetime.total_seconds()), httponly=True,
                    samesite="lax", secure=settings.secure_cookies, path="/")  # fmt: skip
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return done


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Sign out: the session ends on the server, not only in this browser."""
    session = await session_of(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    user, expected = session
    if not csrf or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return HTMLResponse("<p>页面已过期，请返回刷新后再退出。</p>", status_code=403)
    cookie = request.cookies.get(SESSION_COOKIE) or ""
    await asyncio.to_thread(tokens.revoke, settings_of(request).database_url, cookie)
    await asyncio.to_thread(audit_of, request, user, "user.sign_out", user.name)
    page = _login_page(request, notice="您已退出登录。")
    page.delete_cookie(SESSION_COOKIE, path="/")
    return page


def _filter_value(value: str | None, allowed: set[str]) -> str | None:
    return value if value in allowed else None


@router.get("/console/handoffs")
async def handoffs_page(request: Request) -> Response:
    """人工服务: the queue, the operator's conversations and one conversation (transcript, reply
    box, agent assist, release/close), presence; the page's own JS (static/handoffs.js) uses
    /api/v1/handoffs with the session cookie and its CSRF token, live through server-sent
    events."""
    session = await session_of(request)
    if session is None:
        return RedirectResponse("/login?next=/console/handoffs", status_code=303)
    user, csrf = session
    if user.role not in (Role.OPERATOR, Role.ADMIN):
        return HTMLResponse("<p>人工服务页面仅供坐席和管理员使用。</p>", status_code=403)
    settings = settings_of(request)
    idle = timedelta(minutes=settings.operator_idle_minutes)
    status = await asyncio.to_thread(presence.status_of, settings.database_url, user.name, idle)
    context = {"user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf,
               "presence": status}  # fmt: skip
    page = TEMPLATES.TemplateResponse(request, "handoffs.html", context)
    page.headers["Cache-Control"] = "no-store"
    return page


@router.get("/console")
async def console(
    request: Request,
    status: str | None = None,
    warning: str | None = None,
    department: str | None = None,
    category: str | None = None,
    q: str | None = None,
) -> Response:
    """The work orders this user may see, newest first, contact data masked."""
    session = await session_of(request)
    if session is None:
        return RedirectResponse("/login?next=/console", status_code=303)
    user, csrf = session
    settings = settings_of(request)
    cfg = default_config()
    departments, categories = sorted(cfg.all_departments), sorted(cfg.category_by_name)
    f = {
        "status": _filter_value(status, {s.value for s in Status}),
        "warning": _filter_value(warning, {w for w, _ in WARNINGS}),
        "department": _filter_value(department, set(departments)),
        "category": _filter_value(category, set(categories)),
        "q": (q or "").strip()[:100],
    }
    own = user.role is Role.DEPARTMENT
    now = datetime.now(UTC)
    where = OrderFilter(
        status=f["status"],
        warning=f["warning"],
        text=f["q"] or None,
        category=f["category"],
        department=user.department if own else f["department"],
        as_of=now,
    )
    url = settings.database_url
    orders, total = await asyncio.to_thread(
        lambda: (
            store.list_orders(url, where, limit=PAGE_SIZE, urgent_first=True),
            store.count_orders(url, where),
        )
    )
    zone = ZoneInfo(settings.timezone)
    labels = dict(WARNINGS)
    rows: list[dict[str, Any]] = []
    for order in orders:
        row = order.to_dict(now=now)
        row["created_local"] = order.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        row["warning_label"] = labels.get(row.get("warning") or "none", "")
        running = order_view.clocks(order, now, zone)
        row["sign_clock"], row["reply_clock"] = running.get("sign"), running.get("reply")
        rows.append(row)
    context = {
        "user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf, "orders": rows,
        "total": total, "f": f, "statuses": [s.value for s in Status], "warnings": WARNINGS,
        "departments": departments, "own_department": own, "categories": categories,
    }  # fmt: skip
    page = TEMPLATES.TemplateResponse(request, "console.html", context)
    page.headers["Cache-Control"] = "no-store"
    return page
