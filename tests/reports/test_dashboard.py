"""The managers' dashboard (/console/reports) in real headless Chromium: a manager sees the
hand-counted month's figures and Chinese charts, at laptop and tablet widths; an operator is
refused. Screenshots go to /tmp/shots-report/ (and the pytest tmp dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from gateway.app import create_app
from hotline import db
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving
from tests.reports import fixture

PORT = 18217
SHOTS = Path("/tmp/shots-report")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("dash"), knowledge_preload=False,
                        sla_scan_seconds=0, port=PORT, rasa_url="http://127.0.0.1:9")  # fmt: skip
    db.upgrade(settings.database_url)
    fixture.build(settings.database_url)
    signin.add(settings.database_url, "manager", name="boss")
    signin.add(settings.database_url, "operator", name="li")
    with serving(create_app(settings), PORT) as url:
        yield url


def _sign_in(page: Page, base: str, name: str, target: str) -> None:
    page.goto(f"{base}/login?next={target}")
    page.fill("#username", name)
    page.fill("#password", signin.PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.parametrize("width", [1366, 820])
def test_manager_sees_the_month(browser: Browser, base: str, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    _sign_in(page, base, "boss", "/console/reports?month=2026-11")
    expect(page.locator("#title")).to_have_text("2026年11月工作情况通报")
    volumes = page.locator('table[data-title="各成员单位办件量统计"]')
    row = volumes.locator("tr", has_text=fixture.A)
    expect(row.locator("td")).to_have_text(
        [fixture.A, "4", "2", "1", "3", "2 (66.67%)", "1 (33.33%)"]
    )
    expect(volumes.locator("tr.total td").nth(5)).to_have_text("3 (75.00%)")
    ranking = page.locator('table[data-title="成员单位考核排名"] tbody tr').first
    expect(ranking.locator("td").nth(1)).to_have_text(fixture.B)
    expect(page.locator('table[data-title="当场答复与智能客服"]')).to_contain_text("50.00%")
    chart = page.locator("#chart-units")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.naturalWidth") > 300  # the PNG decoded
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{width}.png"), full_page=True)
    page.close()


def test_operator_is_refused_and_bad_month_explained(browser: Browser, base: str) -> None:
    page = browser.new_page()
    _sign_in(page, base, "li", "/console/reports")
    expect(page.locator("body")).to_contain_text("仅供管理人员和管理员")
    page.close()
    page = browser.new_page()
    _sign_in(page, base, "boss", "/console/reports?month=2026-13")
    expect(page.locator("body")).to_contain_text("YYYY-MM")
    page.close()
