"""Pictures attached to a work order (a citizen's WeChat images), for the staff who may see the
order: the same rule as `GET /api/v1/work-orders/{number}` (every signed-in role; a department
user only its own department's orders, another's answers 404 as an unknown one)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel

from accounts.roles import Role
from accounts.users import Principal
from gateway.auth import allow
from hotline.settings import Settings
from workorders import pictures, store
from workorders.store import WorkOrderError

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])
Reader = Annotated[Principal, Depends(allow(*Role))]


class AttachmentOut(BaseModel):
    id: int
    media_type: str
    size: int
    sha256: str
    created_at: str
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
    """The pictures the citizen sent with the order, oldest first."""
    settings: Settings = request.app.state.settings

    def listed() -> list[AttachmentOut]:
        found = _order_visible(settings.database_url, user, number)
        return [
            AttachmentOut(id=a.id, media_type=a.media_type, size=a.size, sha256=a.sha256,
                          created_at=a.created_at.isoformat(),
                          url=f"/api/v1/work-orders/{found}/attachments/{a.id}")
            for a in pictures.of_order(settings.database_url, found)
        ]  # fmt: skip

    return await asyncio.to_thread(listed)


@router.get("/{number}/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"image/*": {}}}})  # fmt: skip
async def show_attachment(
    request: Request, user: Reader, number: str, attachment_id: int
) -> Response:
    """One picture, as stored (its type checked from its bytes when it was kept)."""
    settings: Settings = request.app.state.settings

    def read() -> tuple[str, bytes] | None:
        found = _order_visible(settings.database_url, user, number)
        return pictures.content_of(settings.database_url, found, attachment_id)

    kept = await asyncio.to_thread(read)
    if kept is None:
        raise HTTPException(404, f"no attachment {attachment_id} on work order {number}")
    media_type, content = kept
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
               "Content-Disposition": f'inline; filename="{number}-{attachment_id}"'}  # fmt: skip
    return Response(content, media_type=media_type, headers=headers)
