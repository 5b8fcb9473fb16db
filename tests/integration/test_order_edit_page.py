"""编辑工单 in real headless Chromium: an operator opens an order, presses 编辑工单, types a
wrong phone number (the form comes back with a Chinese message and everything typed), corrects
it and saves; the order page shows the new address, type and masked phone, and the timeline a
修改 step with old → new. From 人工服务, the conversation that made an order links to the same
form.

Screenshots are kept in the test's tmp dir and, when the ORDER_EDIT_SHOTS directory is set,
there too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from gateway.app import create_app
from handoffs import queue, summary
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving
from workorders import store
from workorders.states import Actor

UNIT = "市城市管理局"
PORT = 18250
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("order-edit"), knowledge_preload=False,
                        sla_scan_seconds=0, port=PORT, rasa_url="http://127.0.0.1:9")  # fmt: skip
    with serving(create_app(settings), PORT) as base:
        signin.add(settings.database_url, "operator", name="li")
        yield base, settings


def shot(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    if extra := os.environ.get("ORDER_EDIT_SHOTS"):
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


def operator(browser: Browser, base: str, target: str) -> Page:
    page = browser.new_context(viewport=LAPTOP).new_page()  # type: ignore[arg-type]
    page.goto(f"{base}/login?next={target}")
    page.fill("#username", "li")
    page.fill("#password", signin.PASSWORD)
    page.click("#submit")
    expect(page).to_have_url(f"{base}{target}")
    return page


def test_an_operator_corrects_an_order(
    app: tuple[str, Settings], browser: Browser, tmp_path: Path
) -> None:
    base, settings = app
    draft = {"channel": "web", "kind": "投诉", "request_text": "幸福路口的路灯坏了，晚上很黑",
             "category": "城市管理", "citizen_phone": "13812345678"}  # fmt: skip
    number = store.create(settings.database_url, draft).number
    store.transition(settings.database_url, number, "派单", Actor.centre("li"), department=UNIT)

    page = operator(browser, base, f"/console/orders/{number}")
    page.click("#edit-order")
    expect(page).to_have_url(f"{base}/console/orders/{number}/edit")
    expect(page.locator("#edit-text")).to_have_value("幸福路口的路灯坏了，晚上很黑")
    expect(page.locator("#edit-phone")).to_have_attribute(
        "placeholder", "当前：138****5678，不修改请留空"
    )
    page.fill("#edit-text", "幸福路与人民路路口的路灯坏了三盏，晚上很黑")
    page.fill("#edit-address", "城东区幸福路与人民路路口")
    page.select_option("#edit-category", "市容环卫")
    page.fill("#edit-phone", "1391234")
    page.fill("#edit-note", "市民来电更正地址和电话")
    page.click("#edit-save")
    expect(page.locator("#error")).to_have_text(
        "联系电话：电话号码格式不正确，请输入11位手机号或带区号的固定电话"
    )
    expect(page.locator("#edit-address")).to_have_value("城东区幸福路与人民路路口")  # kept
    expect(page.locator("#edit-text")).to_have_value("幸福路与人民路路口的路灯坏了三盏，晚上很黑")
    expect(page.locator("#edit-category")).to_have_value("市容环卫")
    expect(page.locator("#edit-note")).to_have_value("市民来电更正地址和电话")
    shot(page, tmp_path, "order-edit-1-refused")

    page.fill("#edit-phone", "13912345678")
    page.click("#edit-save")
    expect(page).to_have_url(f"{base}/console/orders/{number}?done=%E4%BF%AE%E6%94%B9")
    expect(page.locator("#done")).to_have_text("已修改。")
    expect(page.locator("#address")).to_have_text("城东区幸福路与人民路路口")
    expect(page.locator("#category")).to_contain_text("市容环卫")
    expect(page.locator("#contact")).to_contain_text("139****5678")
    expect(page.locator("#request-text")).to_have_text("幸福路与人民路路口的路灯坏了三盏，晚上很黑")
    step = page.locator('#timeline li[data-action="修改"]')
    expect(step).to_have_count(1)
    expect(step.locator(".actor")).to_have_text("中心:li")
    expect(step.locator(".note")).to_have_text("市民来电更正地址和电话")
    expect(step.locator(".edit-change")).to_have_text([
        "诉求内容：幸福路口的路灯坏了，晚上很黑 → 幸福路与人民路路口的路灯坏了三盏，晚上很黑",
        "地址：（空） → 城东区幸福路与人民路路口",
        "工单类型：城市管理 → 市容环卫",
        "联系电话：138****5678 → 139****5678",
    ])  # fmt: skip
    expect(page.locator("body")).not_to_contain_text("13912345678")
    shot(page, tmp_path, "order-edit-2-saved")

    # The conversation that made the order links to the same form.
    said = summary.build(said=["幸福路口的路灯坏了"], reason="asked", channel="web",
                         order_number=number)  # fmt: skip
    handoff, _ = queue.enqueue(settings.database_url, "web:edit-citizen", "web", "asked",
                               said.to_dict())  # fmt: skip
    queue.note_order(settings.database_url, handoff.id, number)
    page.goto(f"{base}/console/handoffs")
    page.locator("#queue li", has_text="幸福路口").first.click()
    link = page.locator("#summary #edit-order")
    expect(link).to_have_attribute("href", f"/console/orders/{number}/edit")
    shot(page, tmp_path, "order-edit-3-handoff")
    with page.context.expect_page() as opened:
        link.click()
    form = opened.value
    expect(form).to_have_url(f"{base}/console/orders/{number}/edit")
    expect(form.locator("#edit-address")).to_have_value("城东区幸福路与人民路路口")
