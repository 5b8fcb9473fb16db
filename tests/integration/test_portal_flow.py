"""The department portal and 回访 in real headless Chromium, three browser contexts on one app:
the department signs for an order and returns it; the centre reviews the return and sends it
back; the department replies with a photo; the centre closes it; the web-chat citizen gets the
回访 in the chat and rates 不满意 with a comment; the order reopens to the same department.

Screenshots (tablet and laptop widths) are kept in the test's tmp dir and, when the
PORTAL_SHOTS directory is set, there too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from gateway.app import create_app
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving
from workorders import store
from workorders.states import Actor

UNIT = "市城市管理局"
SENDER = "web-portal-citizen"
PORT = 18150
TABLET, LAPTOP = {"width": 820, "height": 1180}, {"width": 1366, "height": 800}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("portal"), knowledge_preload=False,
                        sla_scan_seconds=0, port=PORT, rasa_url="http://127.0.0.1:9")  # fmt: skip
    with serving(create_app(settings), PORT) as base:
        for name, role, dept in (
            ("wang", "department", UNIT),
            ("li", "operator", None),
            ("root", "admin", None),
        ):
            signin.add(settings.database_url, role, dept, name=name)  # fmt: skip
        yield base, settings


def shot(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    if extra := os.environ.get("PORTAL_SHOTS"):
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


def staff(browser: Browser, base: str, name: str, viewport: dict[str, int]) -> Page:
    page = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
    page.goto(f"{base}/login")
    page.fill("#username", name)
    page.fill("#password", signin.PASSWORD)
    page.click("#submit")
    expect(page).to_have_url(f"{base}/console")
    return page


def form(page: Page, action: str) -> Locator:
    return page.locator(f'form.act[data-action="{action}"]')


def test_return_review_reply_and_an_unsatisfied_citizen(
    app: tuple[str, Settings], browser: Browser, tmp_path: Path
) -> None:
    base, settings = app
    url = settings.database_url
    draft = {"channel": "web", "kind": "投诉", "request_text": "幸福路口的路灯坏了，晚上很黑",
             "category": "城市管理", "citizen_phone": "13812345678",
             "conversation_id": f"web:{SENDER}"}  # fmt: skip
    number = store.create(url, draft).number  # as the bot makes it from the chat
    store.transition(url, number, "派单", Actor.centre("li"), department=UNIT)

    unit = staff(browser, base, "wang", TABLET)
    expect(unit.locator("#orders tbody tr")).to_have_count(1)
    expect(unit.locator("#orders")).to_contain_text("剩余")  # the sign-for countdown
    shot(unit, tmp_path, "portal-1-list-tablet")
    unit.click(f"text={number}")
    expect(unit.locator("#status")).to_have_text("已派单")
    shot(unit, tmp_path, "portal-1b-order-forms-tablet")
    unit.click("#act-签收")
    expect(unit.locator("#done")).to_have_text("已签收。")
    form(unit, "退单").locator("textarea").fill("路灯属区管养，不属本单位")
    unit.click("#act-退单")
    expect(unit.locator("#status")).to_have_text("退单审核中")
    shot(unit, tmp_path, "portal-2-returned-tablet")

    centre = staff(browser, base, "li", LAPTOP)
    centre.goto(f"{base}/console/orders/{number}")
    expect(centre.locator("#timeline")).to_contain_text("路灯属区管养，不属本单位")
    form(centre, "驳回退单").locator("textarea").fill("该路段路灯由市城管局管养")
    centre.click("#act-驳回退单")
    expect(centre.locator("#status")).to_have_text("已签收")
    shot(centre, tmp_path, "portal-3-sent-back-laptop")

    unit.reload()
    reply = form(unit, "反馈")
    reply.locator("textarea").fill("已更换灯泡，恢复照明")
    reply.locator("input[type=file]").set_input_files(
        files=[{"name": "现场照片.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8photo"}]
    )
    unit.click("#act-反馈")
    expect(unit.locator("#status")).to_have_text("已反馈")
    expect(unit.locator("#timeline")).to_contain_text("现场照片.jpg")
    shot(unit, tmp_path, "portal-4-replied-tablet")

    centre.reload()
    form(centre, "办结").locator("textarea").fill("路灯已修复，感谢您的反映")
    centre.click("#act-办结")
    expect(centre.locator("#status")).to_have_text("已办结")
    expect(centre.locator("#timeline")).to_contain_text("发起回访")

    chat_context = browser.new_context(viewport={"width": 390, "height": 800})
    chat_context.add_init_script(f"localStorage.setItem('hotline-sender', '{SENDER}')")
    citizen = chat_context.new_page()
    citizen.goto(f"{base}/chat")
    expect(citizen.locator("#log")).to_contain_text("路灯已修复，感谢您的反映", timeout=15_000)
    citizen.fill(".followup-comment", "晚上还是不亮")
    shot(citizen, tmp_path, "portal-5-followup-chat")
    citizen.click(".buttons button:has-text('不满意')")
    expect(citizen.locator("#log")).to_contain_text("工单已重新交办给承办部门", timeout=15_000)
    shot(citizen, tmp_path, "portal-6-rated-chat")

    centre.reload()
    expect(centre.locator("#status")).to_have_text("已派单")
    expect(centre.locator("#department")).to_have_text(UNIT)
    expect(centre.locator("#redo-count")).to_have_text("1 次")
    expect(centre.locator("#timeline")).to_contain_text("晚上还是不亮")
    shot(centre, tmp_path, "portal-7-reopened-laptop")
    unit.goto(f"{base}/console/orders/{number}")
    expect(unit.locator("#act-签收")).to_be_visible()  # the unit signs for the redo again


def test_followup_and_user_pages_render(
    app: tuple[str, Settings], browser: Browser, tmp_path: Path
) -> None:
    base, settings = app
    url = settings.database_url
    draft = {"channel": "voice", "kind": "求助", "request_text": "小区门口下水道堵了",
             "category": "城市管理", "citizen_phone": "13900001111"}  # fmt: skip
    number = store.create(url, draft).number
    store.transition(url, number, "派单", Actor.centre("li"), department=UNIT)
    unit = Actor.of_department(UNIT, "wang")
    store.transition(url, number, "签收", unit)
    store.transition(url, number, "反馈", unit, "已疏通")
    for viewport, name in ((TABLET, "tablet"), (LAPTOP, "laptop")):
        centre = staff(browser, base, "li", viewport)
        centre.goto(f"{base}/console/orders/{number}")
        if name == "tablet":  # closed once: a phone citizen's 回访 is a call
            close = form(centre, "办结").locator("textarea")
            close.fill("已疏通，答复市民")
            centre.click("#act-办结")
            expect(centre.locator("#status")).to_have_text("已办结")
        centre.click("#to-followups")
        card = centre.locator(f'.followup[data-number="{number}"]')
        expect(card).to_contain_text("13900001111")  # to call: unmasked
        expect(card).to_contain_text("请问您对办理结果是满意、基本满意还是不满意")
        shot(centre, tmp_path, f"portal-8-followups-{name}")
        centre.goto(f"{base}/console/handoffs")  # its bar links here too
        expect(centre.locator("#to-followups")).to_be_visible()
        shot(centre, tmp_path, f"portal-10-handoffs-{name}")
        centre.click("#to-followups")
        admin = staff(browser, base, "root", viewport)
        admin.click("#to-users")
        expect(admin.locator("#users")).to_contain_text("wang")
        shot(admin, tmp_path, f"portal-9-users-{name}")
    centre.locator(f'.followup[data-number="{number}"] select').select_option("满意")
    centre.locator(f'.followup[data-number="{number}"] button').click()
    expect(centre.locator("#status")).to_have_text("已回访")
    expect(centre.locator("#satisfaction")).to_have_text("满意")
