"""The /chat page in real headless Chromium when a message's first request is lost: the page
sends it again with the same message_id and shows the one answer; each new message has a new
id. The app is real (uvicorn, SQLite); Rasa is the stand-in, which counts what reached it."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser, Route, expect

from gateway.app import create_app
from hotline.settings import Settings
from tests.conftest import serving
from tests.standin_rasa import stand_in_rasa

APP_PORT, RASA_PORT = 19621, 19622


def test_a_message_whose_request_failed_is_sent_again_with_its_id(
    tmp_path: Path, browser: Browser
) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False,
                        rasa_url=f"http://127.0.0.1:{RASA_PORT}")  # fmt: skip
    sent: list[dict] = []

    def first_one_lost(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        if len(sent) == 1:
            route.abort("connectionreset")  # as when the replica died mid-request
        else:
            route.continue_()

    with stand_in_rasa(RASA_PORT) as rasa, serving(create_app(settings), APP_PORT) as url:
        page = browser.new_page()
        page.route("**/api/v1/chat", first_one_lost)
        page.goto(f"{url}/chat")
        page.fill("#text", "你好")
        page.click("#send")
        bots = page.locator(".row.bot:not(.typing) .bubble")
        expect(bots.last).to_have_text("机器人：你好", timeout=20_000)
        page.fill("#text", "谢谢")
        page.click("#send")
        expect(bots.last).to_have_text("机器人：谢谢", timeout=20_000)
        expect(page.locator(".error")).to_have_count(0)  # no "网络好像断了"
        page.close()
    assert [s["text"] for s in sent] == ["你好", "你好", "谢谢"]
    ids = [s["message_id"] for s in sent]
    assert ids[0] == ids[1] != ids[2] and all(ids)
    assert rasa.turns == ["你好", "谢谢"]  # the lost request never reached the server
