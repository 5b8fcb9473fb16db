"""What the WeChat channel keeps in the database: one row per delivered message (WeChat retries
a message up to three times; the primary key makes the first delivery the only one that runs
the bot, in any app process) and the shared access token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope


class WechatMessage(Base):
    __tablename__ = "wechat_messages"

    dedupe_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    openid: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str | None] = mapped_column(Text)


class WechatAccessToken(Base):
    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Seen:
    """A message delivered before: its state and the passive reply it got, if any."""

    state: str
    reply: str | None


def claim(url: str, key: str, openid: str) -> Seen | None:
    """Record the first delivery of a message; None when this call is it, else what the
    earlier delivery left (a retry)."""
    try:
        with session_scope(url) as session:
            now = datetime.now(UTC)
            session.add(WechatMessage(dedupe_key=key, openid=openid, received_at=now,
                                      state="pending"))  # fmt: skip
            session.flush()
        return None
    except IntegrityError:
        with session_scope(url) as session:
            row = session.get(WechatMessage, key)
            return Seen(row.state, row.reply) if row else Seen("pending", None)


def settle(url: str, key: str, state: str, reply: str | None = None) -> None:
    """The message's outcome: replied (with the passive reply), sent, failed or none."""
    with session_scope(url) as session:
        session.execute(
            update(WechatMessage)
            .where(WechatMessage.dedupe_key == key)
            .values(state=state, reply=reply)
        )


def forget_before(url: str, before: datetime) -> int:
    """Drop message keys older than WeChat's retry horizon (minutes); returns how many."""
    with session_scope(url) as session:
        result = session.execute(delete(WechatMessage).where(WechatMessage.received_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


def cached_token(url: str, appid: str) -> tuple[str, datetime] | None:
    with session_scope(url) as session:
        row = session.execute(
            select(WechatAccessToken.token, WechatAccessToken.expires_at).where(
                WechatAccessToken.appid == appid
            )
        ).first()
    if row is None:
        return None
    expires = row[1] if row[1].tzinfo else row[1].replace(tzinfo=UTC)  # SQLite drops the zone
    return row[0], expires


def store_token(url: str, appid: str, token: str, lifetime: timedelta) -> None:
    """Share a fresh token with every process. Two processes refreshing at once both store a
    valid token: WeChat keeps the previous one valid a few minutes after a refresh."""
    expires = datetime.now(UTC) + lifetime
    values = {"token": token, "expires_at": expires}
    try:
        with session_scope(url) as session:
            changed = session.execute(
                update(WechatAccessToken).where(WechatAccessToken.appid == appid).values(**values)
            )
            if not getattr(changed, "rowcount", 0):
                session.add(WechatAccessToken(appid=appid, **values))
    except IntegrityError:  # another process inserted it first: update theirs
        with session_scope(url) as session:
            session.execute(
                update(WechatAccessToken).where(WechatAccessToken.appid == appid).values(**values)
            )
