"""Slow-down and lockout after failed sign-ins, per account name and per client address.

Failures are rows in the database, so the count holds across replicas and restarts. A name is
counted whether or not the account exists (a lockout must not tell which names exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from accounts.model import SignInFailure
from hotline.db import session_scope


@dataclass(frozen=True)
class Limits:
    per_name: int = 5  # failures of one account name within the window lock it
    per_address: int = 20  # failures from one address within the window lock that address
    window: timedelta = timedelta(minutes=15)


def failures(url: str, name: str, address: str, limits: Limits) -> tuple[int, int]:
    """Failures within the window: (of this name, from this address)."""
    since = datetime.now(UTC) - limits.window
    counts = []
    with session_scope(url) as s:
        for scope, key in (("name", name.lower()), ("address", address)):
            query = select(func.count()).where(
                SignInFailure.scope == scope,
                SignInFailure.key == key[:128],
                SignInFailure.at > since,
            )
            counts.append(int(s.scalar(query) or 0))
    return counts[0], counts[1]


def locked(url: str, name: str, address: str, limits: Limits) -> bool:
    by_name, by_address = failures(url, name, address, limits)
    return by_name >= limits.per_name or by_address >= limits.per_address


def record_failure(url: str, name: str, address: str, limits: Limits) -> int:
    """Count one failure; returns the failures of this name within the window (the slow-down
    grows with it). Rows older than the window are removed on the way."""
    now = datetime.now(UTC)
    with session_scope(url) as s:
        s.execute(delete(SignInFailure).where(SignInFailure.at <= now - limits.window))
        s.add(SignInFailure(scope="name", key=name.lower()[:128], at=now))
        s.add(SignInFailure(scope="address", key=address[:128], at=now))
    return failures(url, name, address, limits)[0]


def clear(url: str, name: str) -> None:
    """A successful sign-in forgets the account's failures (not the address's)."""
    with session_scope(url) as s:
        s.execute(
            delete(SignInFailure).where(
                SignInFailure.scope == "name", SignInFailure.key == name.lower()[:128]
            )
        )
