"""GET /api/v1/knowledge/search: the knowledge search with its answer/clarify/abstain decision."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from gateway.auth import public
from gateway.errors import check_length
from hotline.settings import Settings
from knowledge.service import get_service

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"], dependencies=[Depends(public)])


class SourceOut(BaseModel):
    title: str
    article: str | None
    date: str | None
    url: str | None


class ResultOut(BaseModel):
    id: str
    title: str
    score: float
    text: str
    source: SourceOut


class SearchOut(BaseModel):
    decision: Literal["answer", "clarify", "abstain"]
    results: list[ResultOut]


@router.get("/search", response_model=SearchOut)
def search(
    request: Request,
    q: Annotated[str, Query(description="the citizen's question")],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    channel: Annotated[Literal["web", "wechat", "voice", "api"], Query()] = "api",
) -> SearchOut:
    settings: Settings = request.app.state.settings
    q = q.strip()
    if not q:
        raise HTTPException(422, "q: must not be empty or whitespace")
    check_length("q", q, settings.max_text_chars)
    outcome = get_service(settings).search(q, k=k)
    return SearchOut(
        decision=outcome.decision,
        results=[
            ResultOut(
                id=r.entry.id,
                title=r.entry.question,
                score=round(r.score, 4),
                text=r.entry.spoken() if channel == "voice" else r.entry.answer,
                source=SourceOut(
                    title=r.entry.source.title,
                    article=r.entry.source.article,
                    date=r.entry.source.date.isoformat() if r.entry.source.date else None,
                    url=r.entry.source.url,
                ),
            )
            for r in outcome.results
        ],
    )
