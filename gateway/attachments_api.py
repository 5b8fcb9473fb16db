"""The files of a work order (a citizen's WeChat pictures, a department's photos with its reply),
for the staff who may see the order: the same rule as `GET /api/v1/work-orders/{number}`
(every signed-in role; a department user only its own department's orders, another's answers
404 as an unknown one)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel

from accounts.roles import Role
from accounts.users import Principal
from gateway.auth import allow
from gateway.errors import RowId
from hotline.settings import Settings
from workorders import attachments, store
from workorders.inputs import OrderNotFound
from workorders.store import WorkOrderError

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])
Reader = Annotated[Principal, Depends(allow(*Role))]


class AttachmentOut(BaseModel):
    id: int
    filename: str
    media_type: str
    size: int
    step: int  # the timeline step it came with (1: 受理, the citizen's own)
    uploaded_by: str
    url: str


def _order_visible(url: str, user: Principal, number: str) -> str:
    """The order's canonical number if this user may see it; 404 otherwise."""
    try:
        order = store.get(url, number)
    except WorkOrderError:
        raise HTTPException(404, f"no work order {number}") from None
    if user.role is Role.DEPARTMENT and order.department != user.department:
        raise HTTPException(404, f"no work order {number}")
    return order.number


@router.get("/{number}/attachments", response_model=list[AttachmentOut])
async def list_attachments(request: Request, user: Reader, number: str) -> list[AttachmentOut]:
    """The order's files, oldest first."""
    settings: Settings = request.app.state.settings

    def listed() -> list[AttachmentOut]:
        found = _order_visible(settings.database_url, user, number)
        return [
            AttachmentOut(id=a.id, filename=a.filename, media_type=a.content_type, size=a.size,
                          step=a.event_seq, uploaded_by=a.uploaded_by,
                          url=f"/api/v1/work-orders/{found}/attachments/{a.id}")
            for a in attachments.listed(settings.database_url, found)
        ]  # fmt: skip

    return await asyncio.to_thread(listed)


@router.get("/{number}/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"image/*": {}}}})  # fmt: skip
async def show_attachment(
    request: Request, user: Reader, number: str, attachment_id: RowId
) -> Response:
    """One file, as stored; sent as a download (never rendered inline: an uploaded file's
    claimed type is not trusted), as the console does."""
    settings: Settings = request.app.state.settings

    def read() -> attachments.WorkOrderAttachment:
        found = _order_visible(settings.database_url, user, number)
        return attachments.fetch(settings.database_url, found, attachment_id)

    try:
        row = await asyncio.to_thread(read)
    except OrderNotFound:
        raise HTTPException(404, f"no attachment {attachment_id} on work order {number}") from None
    disposition = f'attachment; filename="{number}-{attachment_id}"'
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
               "Content-Disposition": disposition}  # fmt: skip
    return Response(row.content, media_type=row.content_type, headers=headers)
