"""GET /api/v1/knowledge/search over the sample KB (real model, embedded SQLite)."""

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline.settings import Settings


def test_search_answers_with_source_and_voice_text(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path, knowledge_preload=False))) as client:
        chat = client.get("/api/v1/knowledge/search", params={"q": "荆州门诊慢性病报销比例是多少"})
        voice = client.get(
            "/api/v1/knowledge/search",
            params={"q": "荆州门诊慢性病报销比例是多少", "channel": "voice", "k": 2},
        )
        empty = client.get("/api/v1/knowledge/search", params={"q": "  "})
        too_many = client.get("/api/v1/knowledge/search", params={"q": "护照", "k": 99})
    body = chat.json()
    assert chat.status_code == 200 and body["decision"] == "answer"
    top = body["results"][0]
    assert top["id"] == "yb-001"
    assert "50%" in top["text"] and top["source"]["article"] == "第十八条"
    assert len(voice.json()["results"]) == 2
    assert "百分之五十" in voice.json()["results"][0]["text"]  # the voice answer reads numbers
    assert empty.status_code == 422 and "must not be empty" in empty.json()["detail"]
    assert too_many.status_code == 422
