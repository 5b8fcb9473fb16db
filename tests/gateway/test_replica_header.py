"""X-Hotline-Replica names the replica that answered (HOTLINE_REPLICA), on plain and streamed
answers alike; without the setting no header is added."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from gateway.replica_header import ReplicaHeader


def app(name: str | None) -> FastAPI:
    api = FastAPI()

    @api.get("/plain")
    def plain() -> dict[str, str]:
        return {"ok": "yes"}

    @api.get("/stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"data: 1\n\n"
            yield b"data: 2\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    if name:
        api.add_middleware(ReplicaHeader, name=name)
    return api


def test_each_answer_names_its_replica() -> None:
    client = TestClient(app("app-2"))
    assert client.get("/plain").headers["X-Hotline-Replica"] == "app-2"
    streamed = client.get("/stream")
    assert streamed.headers["X-Hotline-Replica"] == "app-2"
    assert streamed.text == "data: 1\n\ndata: 2\n\n"


def test_no_header_without_a_name() -> None:
    assert "X-Hotline-Replica" not in TestClient(app(None)).get("/plain").headers
