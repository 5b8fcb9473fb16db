"""The abuse limits of the public doors: chat, WeChat and sign-in, per sender and per address
(settings HOTLINE_RATE_*; docs/operations.md, "Rate limits"). Over a limit: 429 with a Chinese
message and Retry-After; nothing of the request is processed or stored."""

from __future__ import annotations

import ipaddress
import math

from fastapi import HTTPException, Request

from hotline.rate_limit import RateLimiter, Rule
from hotline.settings import Settings

TOO_MANY = "您的请求过于频繁，请{seconds}秒后再试。如有急事请直接拨打12345热线。"


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limiter = request.app.state.rate_limiter = RateLimiter(settings.redis_url)
    return limiter


def too_many(seconds: float) -> HTTPException:
    wait = math.ceil(seconds)
    return HTTPException(429, TOO_MANY.format(seconds=wait), headers={"Retry-After": str(wait)})


def address_key(request: Request) -> str | None:
    """The client address to count, or None for a loopback one: a reverse proxy on the same
    host sends every citizen's request from it (counting it would limit them all together),
    as do the local test harnesses and benchmarks."""
    address = request.client.host if request.client else ""
    try:
        return None if ipaddress.ip_address(address).is_loopback else address
    except ValueError:
        return address or None


async def wait_needed(request: Request, checks: list[tuple[Rule, str | None]]) -> float | None:
    """Count the request under every (rule, key) with a key; the longest wait if any limit is
    exceeded."""
    limiter = limiter_of(request)
    waits = [w for rule, key in checks
             if key is not None and (w := await limiter.hit(rule, key)) is not None]  # fmt: skip
    return max(waits) if waits else None


async def enforce(request: Request, checks: list[tuple[Rule, str | None]]) -> None:
    """429 when any limit is exceeded."""
    if (wait := await wait_needed(request, checks)) is not None:
        raise too_many(wait)


def chat_rules(s: Settings) -> tuple[Rule, Rule]:
    return (Rule("chat:sender", s.rate_chat_per_sender, s.rate_window_seconds),
            Rule("chat:address", s.rate_chat_per_address, s.rate_window_seconds))  # fmt: skip


def wechat_rules(s: Settings) -> tuple[Rule, Rule]:
    return (Rule("wechat:openid", s.rate_wechat_per_openid, s.rate_window_seconds),
            Rule("wechat:address", s.rate_wechat_per_address, s.rate_window_seconds))  # fmt: skip


def signin_rules(s: Settings) -> tuple[Rule, Rule]:
    return (Rule("signin:name", s.rate_signin_per_name, s.rate_window_seconds),
            Rule("signin:address", s.rate_signin_per_address, s.rate_window_seconds))  # fmt: skip
