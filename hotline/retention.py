"""Retention (保存期限): conversations older than HOTLINE_RETENTION_DAYS are anonymised.

The turns stay (the monthly reports count them, a conversation's turns stay together), but
what names the citizen goes: the sender id becomes a keyed hash (the same for every turn of a
conversation, not reversible without the key, and not guessable from a phone number, as a
plain hash of an 11-digit number would be), phone and ID numbers in the citizen's words and
the bot's replies are masked, and identity keys leave the metadata. Idempotent: an anonymised
turn is recognised by its sender and left alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hotline.conversations import ConversationTurn
from hotline.db import session_scope
from hotline.privacy import mask_numbers

ANON = "anon-"
# Metadata keys that name the citizen (the channels' identity keys and the caller's number).
IDENTITY_KEYS = frozenset({"caller_number", "caller", "openid", "wechat_openid", "FromUserName",
                           "citizen_phone", "citizen_name"})  # fmt: skip
BATCH = 1000


def retention_key(secret: str | None, var_dir: Path) -> bytes:
    """HOTLINE_RETENTION_KEY, else a random key kept in var_dir/retention.key (made once)."""
    if secret:
        return secret.encode()
    path = var_dir / "retention.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def pseudonym(key: bytes, sender: str) -> str:
    return ANON + hmac.new(key, sender.encode(), hashlib.sha256).hexdigest()[:24]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in IDENTITY_KEYS}
    return value


def anonymise(url: str, days: int, key: bytes, now: datetime | None = None) -> int:
    """Anonymise the turns received more than `days` days ago; returns how many changed."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    changed = 0
    while True:
        with session_scope(url) as s:
            rows = list(s.scalars(
                select(ConversationTurn)
                .where(ConversationTurn.received_at < cutoff,
                       ~ConversationTurn.sender.startswith(ANON))
                .order_by(ConversationTurn.id).limit(BATCH)
            ))  # fmt: skip
            for turn in rows:
                turn.sender = pseudonym(key, turn.sender)
                turn.conversation_id = f"{turn.channel}:{turn.sender}"
                turn.user_text = mask_numbers(turn.user_text)
                turn.bot_replies = _scrub(turn.bot_replies)
                turn.metadata_ = _scrub(turn.metadata_ or {})
                if turn.error:
                    turn.error = mask_numbers(turn.error)
            changed += len(rows)
        if len(rows) < BATCH:
            return changed
