"""Pictures a citizen sends with a request (WeChat images): kept in the database (every replica
reads them; no shared disk needed), size-limited, and attached to the conversation's order being
written, or to its next one when none is written yet (intake.submit attaches them when it
stores the order). Staff see them with the order (gateway/attachments_api.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope
from workorders.model import UTCDateTime

# The picture formats kept, known by their first bytes (a claimed type is not trusted).
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class NotAPicture(ValueError):
    """Not a JPEG, PNG, GIF or WebP picture."""


class TooLarge(ValueError):
    """Over the size limit."""


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
    order_number: Mapped[str | None] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Kept:
    id: int
    media_type: str
    size: int
    sha256: str
    created_at: datetime
    order_number: str | None


def picture_type(content: bytes) -> str:
    for head, media_type in SIGNATURES:
        if content.startswith(head):
            return media_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    raise NotAPicture("not a JPEG, PNG, GIF or WebP picture")


def _kept(row: Attachment) -> Kept:
    return Kept(row.id, row.media_type, row.size, row.sha256, row.created_at, row.order_number)


def keep(url: str, conversation: str, content: bytes, max_bytes: int) -> Kept:
    """Store a picture of the conversation, not yet attached to an order."""
    if len(content) > max_bytes:
        raise TooLarge(f"{len(content)} bytes, over {max_bytes}")
    row = Attachment(conversation_id=conversation, media_type=picture_type(content),
                     size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                     content=content, created_at=datetime.now(UTC))  # fmt: skip
    with session_scope(url) as session:
        session.add(row)
        session.flush()
        return _kept(row)


def attach_pending(url: str, conversation: str, number: str) -> int:
    """Attach the conversation's pictures not yet on an order to order `number`; how many."""
    with session_scope(url) as session:
        result = session.execute(
            update(Attachment)
            .where(Attachment.conversation_id == conversation, Attachment.order_number.is_(None))
            .values(order_number=number)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def of_order(url: str, number: str) -> list[Kept]:
    with session_scope(url) as session:
        stmt = select(Attachment).where(Attachment.order_number == number)
        return [_kept(row) for row in session.scalars(stmt.order_by(Attachment.id))]


def content_of(url: str, number: str, attachment_id: int) -> tuple[str, bytes] | None:
    """The picture's type and bytes, if it belongs to order `number`."""
    with session_scope(url) as session:
        row = session.get(Attachment, attachment_id)
        if row is None or row.order_number != number:
            return None
        return row.media_type, row.content
