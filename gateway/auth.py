"""Who is calling: bearer tokens (machine clients) and session cookies (pages), one dependency
per access rule, and `POST /api/v1/auth/token`.

Every /api/v1 route declares its rule with `allow(...)` (signed-in users of these roles: 401
without a user, 403 with another role) or `public` (the citizen channels); the access-matrix
test (tests/gateway/test_access_matrix.py) fails for a route that is in neither list.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, SecretStr

from accounts import audit, throttle, tokens, users
from accounts.roles import Role
from accounts.users import Principal
from gateway import rate_limits
from hotline.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
ACTION_SECRET_HEADER = "X-Hotline-Action-Secret"
PBX_SECRET_HEADER = "X-Hotline-PBX-Secret"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The scheme /docs shows; its Authorize button posts the password form to the token route.
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_loopback(request: Request) -> bool:
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


async def _resolve(request: Request, token: str | None) -> Principal | None:
    """The user of a bearer token, else of the session cookie (whose unsafe requests must carry
    the session's CSRF token: a cookie is sent by any page that posts here, a header is not)."""
    url = settings_of(request).database_url
    if token:
        found = await asyncio.to_thread(tokens.resolve, url, token, "bearer")
        return found[0] if found else None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await asyncio.to_thread(tokens.resolve, url, cookie, "session")
    if found is None:
        return None
    user, csrf = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or ""
        if not csrf or not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise HTTPException(403, "CSRF token missing or wrong")
    return user


async def optional_user(
    request: Request, token: Annotated[str | None, Depends(bearer)]
) -> Principal | None:
    """The signed-in user, or None: for the citizen channels, which serve everyone but trust a
    signed-in centre client with more (e.g. the chat API's channel identity). A session cookie
    without its CSRF token counts as no user here (the chat page posts without one)."""
    try:
        user = await _resolve(request, token)
    except HTTPException:
        user = None
    request.state.user = user
    return user


def allow(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route for these roles: 401 without a user, 403 for another role."""
    allowed = frozenset(roles)

    async def signed_in(
        request: Request, token: Annotated[str | None, Depends(bearer)]
    ) -> Principal:
        user = await _resolve(request, token)
        if user is None:
            raise HTTPException(401, "sign-in required", headers={"WWW-Authenticate": "Bearer"})
        if user.role not in allowed:
            raise HTTPException(403, f"the {user.role.value} role may not do this")
        request.state.user = user
        return user

    return signed_in


def public(request: Request) -> None:
    """The rule of the citizen channels and operations endpoints: no account needed."""
    request.state.user = None


def audit_of(request: Request, user: Principal | None, action: str, target: str | None,
             **detail: Any) -> None:  # fmt: skip
    """Record one change or reveal by this request's user."""
    audit.record(
        settings_of(request).database_url,
        user.name if user else "anonymous",
        action,
        target,
        role=user.role.value if user else None,
        address=client_address(request),
        detail=detail,
    )


def sends_secret(request: Request, header: str, secret: SecretStr | None) -> bool:
    """The request carries the configured shared secret in `header` (never when none is set)."""
    expected = secret.get_secret_value() if secret else ""
    sent = request.headers.get(header) or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def rasa_only(request: Request) -> None:
    """The rule of the action webhook: Rasa only, i.e. a loopback caller (when allowed) or one
    that sends the shared secret HOTLINE_ACTION_SECRET in X-Hotline-Action-Secret."""
    settings = settings_of(request)
    if sends_secret(request, ACTION_SECRET_HEADER, settings.action_secret):
        return
    if settings.action_webhook_loopback and is_loopback(request):
        return
    raise HTTPException(403, "the action webhook answers the Rasa server only")


async def pbx_only(request: Request) -> None:
    """The rule of the PBX's endpoints (a caller's number, a call's outcome): a caller number
    registered here is trusted to name the citizen on the phone, so only the PBX may register
    one — from loopback (when allowed), an address in HOTLINE_PBX_NETWORKS, or with
    HOTLINE_PBX_SECRET in X-Hotline-PBX-Secret."""
    settings = settings_of(request)
    if sends_secret(request, PBX_SECRET_HEADER, settings.pbx_secret):
        return
    if settings.pbx_loopback and is_loopback(request):
        return
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        address = None
    if address is not None and any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.pbx_networks
    ):
        return
    raise HTTPException(403, "these endpoints answer the hotline's PBX only")


def signin_limits(settings: Settings) -> throttle.Limits:
    return throttle.Limits(
        per_name=settings.signin_max_failures,
        per_address=settings.signin_max_failures_address,
        window=timedelta(minutes=settings.signin_lockout_minutes),
    )


class SignInRefused(Exception):
    """Wrong name or password (`locked` False) or too many failures (`locked` True)."""

    def __init__(self, locked: bool, retry_after: float | None = None) -> None:
        super().__init__("locked" if locked else "wrong name or password")
        self.locked = locked
        self.retry_after = retry_after  # set when a rate limit (not the lockout) refused it


async def sign_in(request: Request, name: str, password: str) -> Principal:
    """Check a name and password with the lockout and slow-down; raises SignInRefused."""
    settings = settings_of(request)
    url, address, limits = settings.database_url, client_address(request), signin_limits(settings)
    name = name.strip()
    name_rule, address_rule = rate_limits.signin_rules(settings)
    tries = [(name_rule, name.lower()), (address_rule, rate_limits.address_key(request))]
    wait = await rate_limits.wait_needed(request, tries)
    if wait is not None:  # tries of any password, right or wrong, too fast
        log.warning("sign-in refused from %s: rate limit", address)
        raise SignInRefused(locked=True, retry_after=wait)
    if await asyncio.to_thread(throttle.locked, url, name, address, limits):
        log.warning("sign-in refused from %s: locked after repeated failures", address)
        raise SignInRefused(locked=True)
    user = await asyncio.to_thread(users.authenticate, url, name, password)
    if user is None:
        failures = await asyncio.to_thread(throttle.record_failure, url, name, address, limits)
        log.info("sign-in failed from %s (failures of that name: %d)", address, failures)
        await asyncio.sleep(min(settings.signin_failure_delay * failures, 5.0))
        raise SignInRefused(locked=failures >= limits.per_name)
    await asyncio.to_thread(throttle.clear, url, name)
    return user


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int  # seconds


@router.post(
    "/token",
    response_model=TokenOut,
    responses={
        401: {"description": "wrong name or password"},
        429: {"description": "too many failed sign-ins for this name or address"},
    },
)
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    _: Annotated[None, Depends(public)],
) -> TokenOut:
    """OAuth2 password flow: `username` and `password` as a form → a bearer token that expires
    after HOTLINE_TOKEN_MINUTES and ends when the user is disabled or its password reset."""
    try:
        user = await sign_in(request, form.username, form.password)
    except SignInRefused as exc:
        if exc.retry_after is not None:
            raise rate_limits.too_many(exc.retry_after) from None
        if exc.locked:
            wait = str(settings_of(request).signin_lockout_minutes * 60)
            raise HTTPException(429, "too many failed sign-ins; try again later",
                                headers={"Retry-After": wait}) from None  # fmt: skip
        raise HTTPException(401, "wrong name or password",
                            headers={"WWW-Authenticate": "Bearer"}) from None  # fmt: skip
    settings = settings_of(request)
    lifetime = timedelta(minutes=settings.token_minutes)
    secret, _csrf = await asyncio.to_thread(
        tokens.issue, settings.database_url, user, "bearer", lifetime
    )
    return TokenOut(access_token=secret, expires_in=int(lifetime.total_seconds()))


@router.get("/me")
async def me(user: Annotated[Principal, Depends(allow(*Role))]) -> dict[str, Any]:
    """The signed-in user: name, role, department."""
    return user.to_dict()


audit_router = APIRouter(prefix="/api/v1/audit", tags=["auth"])


@audit_router.get("")
async def audit_log(
    request: Request,
    _: Annotated[Principal, Depends(allow(Role.ADMIN, Role.MANAGER))],
    target: Annotated[
        str | None, Query(max_length=64, description="order number or account")
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, description="who acted")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The audit log, newest first: `{"items": [{"at", "actor", "role", "action", "target",
    "detail", "address"}]}` (admins and managers)."""
    url = settings_of(request).database_url
    items = await asyncio.to_thread(audit.entries, url, target=target, actor=actor, limit=limit)
    return {"items": items}


@router.post("/revoke", status_code=204)
async def revoke(
    request: Request,
    user: Annotated[Principal, Depends(allow(*Role))],
    token: Annotated[str | None, Depends(bearer)],
) -> None:
    """End the bearer token this request carries (signing out a machine client)."""
    if token:
        await asyncio.to_thread(tokens.revoke, settings_of(request).database_url, token)
