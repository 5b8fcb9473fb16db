"""The /chat page in real headless Chromium: type, send, see the bot's reply bubble; Chinese
drawn with a CJK font (on /call too), not as empty boxes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from hotline.serve import Isolated

pytestmark = pytest.mark.stack
# Font families that hold the Chinese characters (setup installs fonts-wqy-microhei).
CJK_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK", "WenQuanYi")
HAN = re.compile(r"[\u4e00-\u9fff]")


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


def glyphs_by_font(page: Page, selector: str) -> dict[str, int]:
    """Font family -> glyphs Chromium drew with it for the element's text (DevTools protocol:
    the fonts the renderer really used, after fallback, not the CSS request)."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no {selector} on the page"
        cdp.send("CSS.enable")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


@pytest.mark.parametrize(
    ("path", "selectors"),
    [
        ("/chat", (".topbar .title", ".notice", "#send")),
        ("/call", (".topbar .title", "#status", "#dial")),
    ],
)
def test_chinese_is_drawn_with_a_cjk_font(
    stack: Isolated, browser: Browser, path: str, selectors: tuple[str, ...]
) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(f"{stack.url}{path}")
    page.evaluate("document.fonts.ready.then(() => true)")
    for selector in selectors:
        text = page.locator(selector).inner_text()
        han = len(HAN.findall(text))
        assert han, f"{selector} holds no Chinese text: {text!r}"
        fonts = glyphs_by_font(page, selector)
        cjk = sum(n for family, n in fonts.items() if family.startswith(CJK_FAMILIES))
        assert cjk >= han, (
            f"{path} {selector} {text!r}: {han} Chinese characters, but Chromium drew them with "
            f"{fonts} (glyphs per font), i.e. as empty boxes. Install a CJK font: "
            "apt-get install fonts-wqy-microhei (what setup installs) or fonts-noto-cjk."
        )
    page.close()
