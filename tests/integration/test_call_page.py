"""The /call page in headless Chromium with a fake microphone, against the real stack.

The microphone plays a WAV made now with the project's TTS (espeak-ng): a second of silence,
a question, then silence. The page streams it over WS /voice/ws to the real ASR, the real Rasa
bot answers, and the answer is played back; the keypad's 0 then transfers the call.
"""

from __future__ import annotations

import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from hotline.conversations import turns_of
from hotline.serve import Isolated
from hotline.settings import Settings
from speech.outcomes import get_call
from tests.conftest import chromium, unavailable

pytestmark = pytest.mark.stack
QUESTION = "我想咨询公积金怎么提取"
RATE = 16000


def make_microphone_wav(path: Path) -> Path:
    from speech.tts import load_tts

    speech = load_tts(Settings()).synthesize(QUESTION, RATE)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(b"\0\0" * RATE + speech + b"\0\0" * RATE * 20)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not shutil.which("espeak-ng"):
        unavailable("espeak-ng (apt-get install espeak-ng)")
    wav = make_microphone_wav(tmp_path_factory.mktemp("mic") / "caller.wav")
    microphone = (
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required",
    )  # fmt: skip
    with chromium(microphone) as launched:
        yield launched


def dial(page: Page, stack: Isolated) -> str:
    page.goto(f"{stack.url}/call")
    expect(page).to_have_title("12345热线 · 网页通话")
    page.click("#dial")
    # The first call loads the speech engines: allow for it.
    expect(page.locator(".row.bot .bubble").first).to_contain_text("欢迎致电12345", timeout=90_000)
    call_id = page.evaluate("document.body.dataset.callId")
    assert call_id
    return call_id


def outcome_of(stack: Isolated, call_id: str) -> dict:
    resp = httpx.get(f"{stack.url}/api/v1/calls/{call_id}/outcome", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_call_from_the_browser(stack: Isolated, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    call_id = dial(page, stack)
    # The caller's question, recognised, and the bot's spoken answer after it.
    caller = page.locator(".row.user:not(.partial) .bubble").first
    expect(caller).not_to_be_empty(timeout=60_000)
    answer = page.locator(".row.user:not(.partial) ~ .row.bot .bubble").first
    expect(answer).not_to_be_empty(timeout=60_000)
    page.wait_for_function("Number(document.body.dataset.heardMs || 0) > 3000", timeout=60_000)
    # The keypad's 0: sent to the bot, whose triage decides a person for a lone 0 on the phone.
    # The call ends as a transfer and the page says what to do.
    page.click('#keypad button[data-key="0"]')
    expect(page.locator("body")).to_have_attribute("data-outcome", "transfer", timeout=60_000)
    expect(page.locator("#status")).to_contain_text("请拨打12345热线")
    expect(page.locator("#dial")).to_be_enabled()
    page.close()

    outcome = outcome_of(stack, call_id)
    assert outcome["outcome"] == "transfer"  # the reason is the triage decision's
    url = f"sqlite:///{stack.var_dir / 'hotline.db'}"
    # The bot's side: every turn on the voice channel, the last one the key 0.
    turns = turns_of(url, f"voice:{call_id}")
    assert turns and all(t.channel == "voice" for t in turns)
    assert turns[-1].user_text == "0" and turns[-1].metadata_["dtmf"] == "0"
    # The call's transcript: the question as recognised (it may have been read back for
    # confirmation rather than sent), then the key.
    record = get_call(url, call_id)
    assert record is not None and record.transcript
    callers = [e for e in record.transcript if e["who"] == "caller"]
    assert callers[0]["input"] == "speech" and callers[0]["text"]
    assert callers[-1] == {**callers[-1], "input": "dtmf", "text": "[按键0]"}


def test_hanging_up_from_the_page(stack: Isolated, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    call_id = dial(page, stack)
    page.click("#hangup")
    expect(page.locator("body")).to_have_attribute("data-outcome", "hangup", timeout=30_000)
    expect(page.locator("#status")).to_have_text("通话已挂断")
    page.close()
    assert outcome_of(stack, call_id)["reason"] == "caller"
