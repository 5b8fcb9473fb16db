"""The /chat page in real headless Chromium: type, send, see the bot's reply bubble."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from hotline.serve import Isolated
from tests.conftest import unavailable

pytestmark = pytest.mark.stack
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if not executable:
        unavailable("Debian chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def test_chat_page_shows_the_bots_reply(stack: Isolated, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(f"{stack.url}/chat")
    expect(page).to_have_title("12345政务服务便民热线")
    page.fill("#text", "你好")
    page.click("#send")
    expect(page.locator(".row.user .bubble").last).to_have_text("你好")
    bot = page.locator(".row.bot:not(.typing) .bubble").last
    expect(bot).to_contain_text("您好", timeout=20_000)
    # The conversation continues: a second message gets its own reply.
    page.fill("#text", "谢谢")
    page.press("#text", "Enter")
    expect(page.locator(".row.bot:not(.typing) .bubble")).to_have_count(2, timeout=20_000)
    expect(page.locator(".row.bot:not(.typing) .bubble").last).to_contain_text("不客气")
    page.close()
