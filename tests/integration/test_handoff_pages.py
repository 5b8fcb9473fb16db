"""Human handoff in real headless Chromium, two browser contexts on the real stack: a citizen
on /chat asks for a person; an operator signed in on /console/handoffs sees the queue item and
its summary, accepts and replies; the citizen sees the reply live; the citizen's next message
reaches the operator; the operator makes the work order from the conversation and gives the
conversation back; the bot answers again. A second time the operator ends the service and the
citizen rates it.
Screenshots of both screens are kept in the test's tmp dir (handoff-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from handoffs import presence
from hotline.serve import Isolated
from tests import signin

pytestmark = pytest.mark.stack
REPLY = "您好，我是12345话务员，公积金提取的材料我来帮您确认。"


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_a_citizen_reaches_an_operator_and_back(
    stack: Isolated, browser: Browser, tmp_path: Path
) -> None:
    name = signin.add(stack.database_url, "operator")
    try:
        converse(stack, browser, tmp_path, name)
    finally:  # the stack is shared: later tests expect no operator on duty (call-back orders)
        presence.set_status(stack.database_url, name, "away")


def converse(stack: Isolated, browser: Browser, tmp_path: Path, name: str) -> None:
    desk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    desk.goto(f"{stack.url}/login?next=/console/handoffs")
    desk.fill("#username", name)
    desk.fill("#password", signin.PASSWORD)
    desk.click("#submit")
    expect(desk).to_have_url(f"{stack.url}/console/handoffs")
    expect(desk.locator("#presence")).to_have_text("离开")
    desk.click("#presence")
    expect(desk.locator("#presence")).to_have_text("在线")

    citizen = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
    citizen.goto(f"{stack.url}/chat")
    bot = citizen.locator(".row.bot:not(.typing):not(.operator) .bubble")
    say(citizen, "公积金怎么提取")
    expect(bot).to_have_count(1, timeout=30_000)
    say(citizen, "转人工")
    expect(bot.last).to_contain_text("排在第", timeout=30_000)  # other tests' calls may wait too

    # The queue shows it live, with the five-second summary. The stack is shared: a call that
    # an earlier test transferred may wait in the queue too, with 公积金 in its summary.
    item = desk.locator("#queue li", has_text="市民要求转人工").filter(has_text="公积金").first
    expect(item).to_be_visible(timeout=15_000)
    desk.screenshot(path=str(tmp_path / "handoff-1-queue.png"))
    item.locator("button.take").click()
    expect(desk.locator("#mine li")).to_have_count(1)
    expect(desk.locator("#transcript")).to_contain_text("公积金怎么提取")
    expect(desk.locator("#summary")).to_contain_text("诉求")
    expect(desk.locator("#assist li").first).to_be_visible(timeout=30_000)
    desk.fill("#reply", REPLY)
    desk.press("#reply", "Enter")

    notices = citizen.locator(".notice.handoff")
    expect(notices.filter(has_text="话务员已接入")).to_have_count(1, timeout=15_000)
    expect(citizen.locator(".row.operator .bubble")).to_have_text(REPLY, timeout=15_000)
    say(citizen, "提取需要带身份证吗")
    expect(desk.locator("#transcript")).to_contain_text("提取需要带身份证吗", timeout=15_000)
    # Agent assist: one click puts an entry's answer into the reply box.
    desk.locator("#assist li button.use").first.click()
    expect(desk.locator("#reply")).not_to_have_value("")
    # The work order from the conversation, its request prefilled from what the citizen said.
    desk.click("#order-box summary")
    expect(desk.locator("#order-text")).to_have_value("公积金怎么提取")
    desk.fill("#order-text", "市民咨询公积金提取所需材料，请回电说明")
    desk.fill("#order-phone", "13812345678")
    desk.click("#order-submit")
    expect(desk.locator("#order-done")).to_contain_text("已登记工单", timeout=30_000)
    number = desk.locator("#order-done").inner_text().split("：")[-1].strip()
    expect(citizen.locator(".row.operator .bubble").last).to_contain_text(number, timeout=15_000)
    citizen.screenshot(path=str(tmp_path / "handoff-2-citizen.png"))
    desk.screenshot(path=str(tmp_path / "handoff-3-console.png"))

    desk.click("#release")
    expect(notices.filter(has_text="转回智能客服")).to_have_count(1, timeout=15_000)
    expect(desk.locator("#mine li")).to_have_count(0)
    answered = bot.count()
    say(citizen, "谢谢")  # Rasa answers again: its tracker was resumed
    expect(bot).to_have_count(answered + 1, timeout=30_000)
    expect(bot.last).to_contain_text("不客气")
    say(citizen, "公积金怎么提取")  # and triage with the knowledge base
    expect(bot).to_have_count(answered + 2, timeout=30_000)
    expect(bot.last).not_to_have_text("")
    citizen.screenshot(path=str(tmp_path / "handoff-4-back-to-bot.png"))

    # A second request; this time the operator ends the service and the citizen rates it.
    say(citizen, "转人工")
    again = desk.locator("#queue li", has_text="市民要求转人工").filter(has_text="公积金")
    expect(again).to_have_count(1, timeout=30_000)
    again.locator("button.take").click()
    expect(desk.locator("#close")).to_be_visible()
    desk.click("#close")
    expect(notices.filter(has_text="满意吗")).to_have_count(1, timeout=15_000)
    citizen.locator(".buttons button", has_text="基本满意").last.click()
    expect(bot.last).to_contain_text("感谢您的评价", timeout=30_000)
    citizen.screenshot(path=str(tmp_path / "handoff-5-rated.png"))
    citizen.context.close()
    desk.context.close()
    print(f"screenshots in {tmp_path}")
