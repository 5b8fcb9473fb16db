"""The operators' console in real Chromium: a WeChat reply WeChat refused (the 48-hour window)
waits in the queue with the undelivered text, readable at laptop and tablet widths."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from gateway.app import create_app
from handoffs import intake
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving

PORT = 18321


def test_the_queue_shows_an_undelivered_wechat_reply(browser: Browser, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0,
                        rasa_url="http://127.0.0.1:9")  # fmt: skip
    shots = Path("/tmp/shots-channels")
    shots.mkdir(exist_ok=True)
    with serving(create_app(settings), PORT) as url:
        name = signin.add(settings.database_url, "operator")
        intake.undelivered(settings, "wechat:o-console", "wechat",
                           "您反映的路灯问题已登记，工单号20261207-0001。",
                           ["幸福路的路灯坏了 电话13812345678"])  # fmt: skip
        for width, height in ((1280, 800), (820, 1180)):  # laptop, tablet
            desk = browser.new_context(viewport={"width": width, "height": height}).new_page()
            desk.goto(f"{url}/login?next=/console/handoffs")
            desk.fill("#username", name)
            desk.fill("#password", signin.PASSWORD)
            desk.click("#submit")
            item = desk.locator("#queue li").first
            expect(item).to_contain_text("微信 · 回复未能送达", timeout=15_000)
            expect(item).to_contain_text("未送达：您反映的路灯问题已登记")
            expect(item).not_to_contain_text("13812345678")  # masked
            desk.screenshot(path=str(shots / f"console-undelivered-{width}.png"))
            desk.context.close()
