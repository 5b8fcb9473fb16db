"""The chat page in headless Chromium tells a citizen who writes too fast when to try again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from gateway.app import create_app
from hotline.settings import Settings
from tests.conftest import serving
from tests.hostile.fuzz import fake_rasa

PORT = 18410
SHOTS = Path("/tmp/shots-hostile")


@pytest.mark.parametrize(
    ("width", "height", "label"), [(1366, 768, "laptop"), (820, 1180, "tablet")]
)
def test_the_chat_page_shows_the_rate_limit_message(
    browser: Browser, tmp_path: Path, width: int, height: int, label: str
) -> None:
    with fake_rasa() as rasa:
        settings = Settings(
            var_dir=tmp_path,
            rasa_url=rasa.url,
            knowledge_preload=False,
            sla_scan_seconds=0,
            rate_chat_per_sender=1,
            rate_window_seconds=10**9,
        )  # one window for the whole test
        with serving(create_app(settings), PORT) as url:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{url}/chat")
            for text in ("你好", "还在吗"):
                page.fill("#text", text)
                page.click("#send")
                page.wait_for_function("!document.getElementById('send').disabled")
            error = page.locator("#log .error").last
            error.wait_for()
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / f"chat-429-{label}.png"))
            said = error.inner_text()
            page.close()
    assert "您的请求过于频繁" in said and "秒后再试" in said
