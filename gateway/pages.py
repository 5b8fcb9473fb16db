"""Static pages: the WeChat-style web chat at /chat, the browser call page at /call."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/chat")


@router.get("/chat")
async def chat_page() -> FileResponse:
    return FileResponse(STATIC / "chat.html")


@router.get("/call")
async def call_page() -> FileResponse:
    return FileResponse(STATIC / "call.html")
