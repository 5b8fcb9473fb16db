"""What every console form does the same way: find the signed-in user (else off to sign-in),
check the session's CSRF token, render a page that is never cached, and after a change redirect
back with a flash message (`?done=…`, shown once by the page)."""

from __future__ import annotations

import hmac
from collections.abc import Container, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from accounts.users import Principal
from gateway.console import TEMPLATES, session_of

EXPIRED = "页面已过期，请刷新后重试。"


async def signed_in(request: Request, path: str) -> tuple[Principal, str] | Response:
    """The user and the session's CSRF token, or a redirect to sign-in that comes back here."""
    session = await session_of(request)
    if session is None:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
    return session


def csrf_ok(sent: str, expected: str) -> bool:
    """The form carries the session's CSRF token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


def render(
    request: Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> Response:
    """A console page: staff data, so no browser or proxy keeps a copy."""
    page = TEMPLATES.TemplateResponse(request, template, dict(context), status_code=status)
    page.headers["Cache-Control"] = "no-store"
    return page


def back_to(path: str, done: str) -> RedirectResponse:
    """After a change: 303 to the page (a reload does not post again), with its flash message."""
    return RedirectResponse(f"{path}?done={quote(done)}", status_code=303)


def flash(done: str, allowed: Container[str] | None = None, limit: int = 100) -> str:
    """The flash message a page may show from its `done` parameter: one of `allowed` when
    given (anything else is dropped), else cut to `limit` characters."""
    if allowed is not None:
        return done if done in allowed else ""
    return done[:limit]


def zh(exc: Exception) -> str:
    """The Chinese half of a domain message ("中文 / English")."""
    return str(exc).split(" / ")[0]
