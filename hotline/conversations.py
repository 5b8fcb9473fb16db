"""The conversation log: every turn of every channel, the base of later reports.

It lives in the shared package because reports (workorders) and channels (gateway) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Integer, String, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, engine_for, session_scope, table_of


class ConversationTurn(Base):
    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(128))
    user_text: Mapped[str] = mapped_column(Text)
    bot_replies: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(80))
    confidence: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[int] = mapped_column(Integer)
    # Set on a message an operator wrote to the citizen (user_text empty, the text in
    # bot_replies) and on the notices of a handoff; None for the citizen's own turns.
    operator: Mapped[str | None] = mapped_column(String(64))
    # The client's id of the message (POST /api/v1/chat message_id), on turns that were answered;
    # unique per conversation (migration 0013): a retry is answered from here.
    message_id: Mapped[str | None] = mapped_column(String(64))


@dataclass
class Turn:
    """What a channel knows about one turn when it is over."""

    channel: str
    sender: str
    user_text: str
    received_at: datetime
    replied_at: datetime
    bot_replies: list[dict[str, Any]] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    state: str = "bot"
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    operator: str | None = None
    message_id: str | None = None

    @property
    def conversation_id(self) -> str:
        return conversation_id(self.channel, self.sender)


def conversation_id(channel: str, sender: str) -> str:
    """Sender ids are namespaced by channel so a web 'u1' and a WeChat 'u1' never meet."""
    return f"{channel}:{sender}"


def record_turn(database_url: str, turn: Turn) -> int:
    """Store one turn durably; returns its row id. A Core insert: this is on every turn's path.
    A turn whose message id is already logged (two replicas finished the same retried turn)
    is not logged twice: the id of the row there is returned."""
    values = {
        "conversation_id": turn.conversation_id,
        "channel": turn.channel,
        "sender": turn.sender,
        "user_text": turn.user_text,
        "bot_replies": turn.bot_replies,
        "intent": turn.intent,
        "confidence": turn.confidence,
        "state": turn.state,
        "error": turn.error,
        "metadata": turn.metadata,
        "received_at": turn.received_at,
        "replied_at": turn.replied_at,
        "latency_ms": round((turn.replied_at - turn.received_at).total_seconds() * 1000),
        "operator": turn.operator,
        "message_id": turn.message_id,
    }
    try:
        with engine_for(database_url).begin() as conn:
            result = conn.execute(insert(table_of(ConversationTurn)), values)
            key = result.inserted_primary_key
            if key is None:  # a one-row insert into an autoincrement table always has one
                raise RuntimeError("the database returned no id for the stored turn")
            return int(key[0])
    except IntegrityError:
        if turn.message_id is None:
            raise
        logged = turn_with_message(database_url, turn.conversation_id, turn.message_id)
        if logged is None:
            raise
        return logged.id


def turn_with_message(
    database_url: str, conversation: str, message_id: str
) -> ConversationTurn | None:
    """The logged turn of `conversation` that answered the client's message `message_id`."""
    query = select(ConversationTurn).where(
        ConversationTurn.conversation_id == conversation,
        ConversationTurn.message_id == message_id,
    )
    with session_scope(database_url) as session:
        return session.scalars(query).first()


def last_replies(database_url: str, conversation: str) -> list[dict[str, Any]]:
    """The bot's replies of the conversation's latest turn ([] for a new conversation)."""
    query = (
        select(ConversationTurn.bot_replies)
        .where(ConversationTurn.conversation_id == conversation)
        .order_by(ConversationTurn.id.desc())
        .limit(1)
    )
    with engine_for(database_url).connect() as conn:
        return conn.execute(query).scalar() or []


def latest_turn(database_url: str, conversation: str) -> tuple[str, dict[str, Any]] | None:
    """The citizen's text and the fallback state (gateway/fallback.py) of the conversation's
    latest turn; None for a new conversation."""
    query = (
        select(ConversationTurn.user_text, ConversationTurn.metadata_)
        .where(ConversationTurn.conversation_id == conversation)
        .order_by(ConversationTurn.id.desc())
        .limit(1)
    )
    with engine_for(database_url).connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    metadata = row[1] if isinstance(row[1], dict) else {}
    return row[0], metadata.get("fallback") or {}


def turns_of(database_url: str, conversation: str) -> list[ConversationTurn]:
    with session_scope(database_url) as session:
        stmt = (
            select(ConversationTurn)
            .where(ConversationTurn.conversation_id == conversation)
            .order_by(ConversationTurn.received_at, ConversationTurn.id)
        )
        return list(session.scalars(stmt))


def record_to_citizen(
    database_url: str,
    channel: str,
    sender: str,
    text: str,
    operator: str,
    buttons: list[dict[str, str]] | None = None,
) -> int:
    """Store a message for the citizen outside a bot turn (an operator's reply, a handoff
    notice) in the conversation log; returns its id (the citizen's page reads after it)."""
    now = datetime.now(UTC)
    reply: list[dict[str, Any]] = [{"text": text, "buttons": buttons or []}]
    turn = Turn(channel=channel, sender=sender, user_text="", received_at=now, replied_at=now,
                bot_replies=reply, state="human", operator=operator)  # fmt: skip
    return record_turn(database_url, turn)


def to_citizen_after(
    database_url: str, conversation: str, after: int, limit: int = 100
) -> list[ConversationTurn]:
    """Messages for the citizen stored outside the bot's replies (operators, notices), after
    the row id `after`, oldest first."""
    query = (
        select(ConversationTurn)
        .where(
            ConversationTurn.conversation_id == conversation,
            ConversationTurn.id > after,
            ConversationTurn.operator.is_not(None),
        )
        .order_by(ConversationTurn.id)
        .limit(limit)
    )
    with session_scope(database_url) as session:
        return list(session.scalars(query))


# ---------------------------------------------------------------------------------------------
# Feedback on a conversation: the satisfaction rating asked at its end, and requests for a person
# (kept for the operator console; each also opens a callback work order).

RATINGS = ("满意", "基本满意", "不满意")


class SatisfactionRating(Base):
    __tablename__ = "satisfaction_ratings"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    citizen_text: Mapped[str | None] = mapped_column(Text)
    order_number: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def record_rating(
    database_url: str, conversation: str, channel: str, rating: str, comment: str | None = None
) -> None:
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    with session_scope(database_url) as session:
        session.add(
            SatisfactionRating(
                conversation_id=conversation,
                channel=channel,
                rating=rating,
                comment=comment,
                created_at=datetime.now(UTC),
            )
        )


def ratings_of(database_url: str, conversation: str) -> list[str]:
    with session_scope(database_url) as session:
        stmt = (
            select(SatisfactionRating.rating)
            .where(SatisfactionRating.conversation_id == conversation)
            .order_by(SatisfactionRating.id)
        )
        return list(session.scalars(stmt))


def record_handoff(
    database_url: str,
    conversation: str,
    channel: str,
    reason: str,
    citizen_text: str | None,
    order_number: str | None,
) -> None:
    """Log a request for a person; the same request still open is not logged again (Rasa sends
    an action call again when the replica running it died, and it may have logged it)."""
    with session_scope(database_url) as session:
        same = select(HandoffRequest.id).where(
            HandoffRequest.conversation_id == conversation,
            HandoffRequest.status == "open",
            HandoffRequest.reason == reason,
            HandoffRequest.citizen_text.is_(None)
            if citizen_text is None
            else HandoffRequest.citizen_text == citizen_text,
            HandoffRequest.order_number.is_(None)
            if order_number is None
            else HandoffRequest.order_number == order_number,
        )
        if session.scalar(same.limit(1)) is not None:
            return
        session.add(
            HandoffRequest(
                conversation_id=conversation,
                channel=channel,
                reason=reason,
                citizen_text=citizen_text,
                order_number=order_number,
                status="open",
                created_at=datetime.now(UTC),
            )
        )


def open_handoffs(database_url: str) -> list[HandoffRequest]:
    with session_scope(database_url) as session:
        stmt = select(HandoffRequest).where(HandoffRequest.status == "open")
        return list(session.scalars(stmt.order_by(HandoffRequest.id)))


def recent_citizen_texts(database_url: str, conversation: str, n: int = 3) -> list[str]:
    """The citizen's last `n` messages in the log (button payloads left out), oldest first."""
    query = (
        select(ConversationTurn.user_text)
        .where(
            ConversationTurn.conversation_id == conversation,
            ConversationTurn.operator.is_(None),
            ConversationTurn.user_text != "",
        )
        .order_by(ConversationTurn.id.desc())
        .limit(n * 2)
    )
    with engine_for(database_url).connect() as conn:
        texts = [t for t in conn.execute(query).scalars() if not t.startswith("/")]
    return texts[:n][::-1]
