"""Files attached to a step of an order's timeline (e.g. the photo of a repaired lamp with the
办结 reply): stored in the database, size-limited, listed with the step they belong to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.db import Base, session_scope
from workorders.inputs import InvalidField, OrderNotFound, canonical_number, utc
from workorders.model import _ID, UTCDateTime, WorkOrder, WorkOrderEvent

MAX_FILES = 5


class WorkOrderAttachment(Base):
    __tablename__ = "work_order_attachments"
    __table_args__ = (Index("ix_work_order_attachments_order", "order_id", "event_seq"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    event_seq: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(120))


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    event_seq: int
    filename: str
    size: int
    content_type: str
    uploaded_by: str


def check(uploads: list[Upload], max_bytes: int) -> list[Upload]:
    """The uploads that carry a file, or InvalidField when one is too large or too many."""
    files = [u for u in uploads if u.filename and u.content]
    if len(files) > MAX_FILES:
        raise InvalidField("attachments", f"附件最多{MAX_FILES}个", f"at most {MAX_FILES} files")
    for u in files:
        if len(u.content) > max_bytes:
            kb = max_bytes // 1024
            raise InvalidField(
                "attachments", f"附件「{u.filename}」超过{kb}KB", f"larger than {kb} KiB"
            )
    return files


def attach(
    url: str, number: str, uploads: list[Upload], by: str, now: datetime | None = None
) -> list[AttachmentInfo]:
    """Attach checked files to the order's latest timeline step (the one just written)."""
    now = utc(now)
    canonical = canonical_number(number)
    out = []
    with session_scope(url) as s:
        order_id, seq = latest_step(s, canonical)
        for u in uploads:
            row = WorkOrderAttachment(
                order_id=order_id, event_seq=seq, filename=_name(u.filename),
                content_type=u.content_type[:100] or "application/octet-stream",
                size=len(u.content), content=u.content, uploaded_at=now, uploaded_by=by,
            )  # fmt: skip
            s.add(row)
            s.flush()
            out.append(_info(row))
    return out


def latest_step(s: Session, number: str) -> tuple[int, int]:
    """The order's id and the seq of its latest timeline step (OrderNotFound)."""
    canonical = canonical_number(number)
    order_id = s.scalar(select(WorkOrder.id).filter_by(number=canonical))
    if order_id is None:
        raise OrderNotFound(canonical)
    seq = s.scalar(select(func.max(WorkOrderEvent.seq)).filter_by(order_id=order_id))
    return order_id, seq or 1


def _info(row: WorkOrderAttachment) -> AttachmentInfo:
    return AttachmentInfo(
        row.id, row.event_seq, row.filename, row.size, row.content_type, row.uploaded_by
    )


def listed(url: str, number: str) -> list[AttachmentInfo]:
    canonical = canonical_number(number)
    with session_scope(url) as s:
        rows = s.execute(
            select(
                WorkOrderAttachment.id, WorkOrderAttachment.event_seq,
                WorkOrderAttachment.filename, WorkOrderAttachment.size,
                WorkOrderAttachment.content_type, WorkOrderAttachment.uploaded_by,
            )
            .join(WorkOrder, WorkOrder.id == WorkOrderAttachment.order_id)
            .where(WorkOrder.number == canonical)
            .order_by(WorkOrderAttachment.id)
        ).all()  # fmt: skip
    return [AttachmentInfo(*r) for r in rows]


def fetch(url: str, number: str, attachment_id: int) -> WorkOrderAttachment:
    """One file of this order (OrderNotFound for a file of another order: ids are not probed)."""
    canonical = canonical_number(number)
    with session_scope(url) as s:
        row = s.scalar(
            select(WorkOrderAttachment)
            .join(WorkOrder, WorkOrder.id == WorkOrderAttachment.order_id)
            .where(WorkOrder.number == canonical, WorkOrderAttachment.id == attachment_id)
        )
    if row is None:
        raise OrderNotFound(canonical)
    return row


def _name(filename: str) -> str:
    """The file's own name (no client path), at most 200 characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "附件"
    return base[-200:]
