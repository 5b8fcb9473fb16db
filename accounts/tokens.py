"""Bearer tokens (machine clients) and browser sessions: opaque random secrets whose SHA-256 is
stored with the user and an expiry.

Why stored, not signed: every request looks the token up with its user, so disabling a user,
resetting a password or signing out ends access at once on every replica (they share the
database), and there is no signing key to distribute, rotate or leak. The price is one indexed
lookup per request, small beside what the routes themselves read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select

from accounts.model import AuthToken, User
from accounts.users import Principal, principal_of
from hotline.db import session_scope

Kind = Literal["bearer", "session"]
PREFIX = "hl_"  # makes a leaked token easy to recognise (and to scan for)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(url: str, user: Principal, kind: Kind, lifetime: timedelta) -> tuple[str, str | None]:
    """A new token for `user`: (secret, csrf token of a session or None). Expired tokens of
    every user are removed on the way, so the table stays small."""
    secret = PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "session" else None
    now = datetime.now(UTC)
    with session_scope(url) as s:
        s.execute(delete(AuthToken).where(AuthToken.expires_at <= now))
        s.add(AuthToken(token_hash=_digest(secret), user_id=user.id, kind=kind, csrf=csrf,
                        created_at=now, expires_at=now + lifetime))  # fmt: skip
    return secret, csrf


def resolve(url: str, secret: str, kind: Kind) -> tuple[Principal, str | None] | None:
    """The active user of an unexpired token of this kind and the session's csrf token."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    query = (
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == _digest(secret), AuthToken.kind == kind)
        .where(AuthToken.expires_at > datetime.now(UTC), User.active)
    )
    with session_scope(url) as s:
        row = s.execute(query).first()
        if row is None:
            return None
        token, user = row
        return principal_of(user), token.csrf


def revoke(url: str, secret: str) -> None:
    with session_scope(url) as s:
        s.execute(delete(AuthToken).where(AuthToken.token_hash == _digest(secret)))
