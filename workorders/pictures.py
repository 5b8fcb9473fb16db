"""Pictures a citizen sends with a request (WeChat images): kept in the database (every replica
reads them; no shared disk needed), size-limited, and attached to the conversation's order being
written, or to its next one when none is written yet: intake.submit moves them into the order's
files (workorders/attachments.py, the one store of an order's files) when it stores the order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope
from workorders import attachments
from workorders.model import UTCDateTime

CITIZEN = "市民（微信）"  # who uploaded, on the order's timeline

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


class PendingPicture(Base):
    """A picture waiting for its conversation's next order (then it moves to the order's files)."""

    __tablename__ = "pending_pictures"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
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


def picture_type(content: bytes) -> str:
    for head, media_type in SIGNATURES:
        if content.startswith(head):
            return media_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    raise NotAPicture("not a JPEG, PNG, GIF or WebP picture")


def keep(url: str, conversation: str, content: bytes, max_bytes: int) -> Kept:
    """Store a picture of the conversation until its next order is stored."""
    if len(content) > max_bytes:
        raise TooLarge(f"{len(content)} bytes, over {max_bytes}")
    row = PendingPicture(conversation_id=conversation, media_type=picture_type(content),
                         size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                         content=content, created_at=datetime.now(UTC))  # fmt: skip
    with session_scope(url) as session:
        session.add(row)
        session.flush()
        return Kept(row.id, row.media_type, row.size)


_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def attach_pending(url: str, conversation: str, number: str) -> int:
    """Move the conversation's waiting pictures to order `number`'s files, on its latest
    timeline step (受理, when called as the order is stored), in one transaction; how many."""
    with session_scope(url) as session:
        waiting = list(session.scalars(
            select(PendingPicture).where(PendingPicture.conversation_id == conversation)
            .order_by(PendingPicture.id)
        ))  # fmt: skip
        if not waiting:
            return 0
        order_id, seq = attachments.latest_step(session, number)
        for picture in waiting:
            session.add(attachments.WorkOrderAttachment(
                order_id=order_id, event_seq=seq, content_type=picture.media_type,
                filename=f"微信图片-{picture.id}.{_EXTENSION[picture.media_type]}",
                size=picture.size, content=picture.content, uploaded_at=picture.created_at,
                uploaded_by=CITIZEN,
            ))  # fmt: skip
            session.delete(picture)
        return len(waiting)
