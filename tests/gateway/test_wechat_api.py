"""/wechat as WeChat's servers use it: wechatpy on the client side signs (and in safe mode
encrypts) each message, a fake WeChat API on the loopback interface records the
customer-service messages, and a fake bot stands in for Rasa (its turns counted, slowed at
will). The real bot's answers and orders: tests/integration/test_wechat_channel.py."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.rasa_client import BotTurn
from hotline.settings import Settings
from speech.engine import Recognition
from tests.wechat.fake_api import FakeWechat, fake_wechat
from wechat import messages, store
from wechat.protocol import WechatConfig
from wechat.simulate import Reply, message_xml, open_reply, signed_request

TOKEN, APPID, SECRET = "hotline-token", "wx-test-app", "wx-test-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat gives
CONFIG = WechatConfig(TOKEN, APPID, AES_KEY)


class FakeBot:
    """Stands in for RasaClient: echoes the text, counts turns, waits `delay` seconds."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str, dict[str, Any]]] = []
        self.delay = 0.0
        self.base_url = "fake:"

    async def turn(self, sender: str, text: str, channel: str, metadata: dict[str, Any],
                   message_id: str | None = None) -> BotTurn:  # fmt: skip
        self.turns.append((sender, text, channel, metadata))
        await asyncio.sleep(self.delay)
        if "长答案" in text:
            return BotTurn(messages=[{"text": "\n".join("政策条文" * 40 for _ in range(12))}])
        if "地址" in text:
            return BotTurn(messages=[{"text": "请问事情发生在哪里？请告诉我详细地址。"}])
        buttons = [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "修改", "payload": "/deny"},
        ]
        return BotTurn(messages=[{"text": f"收到：{text}"}, {"text": "请确认", "buttons": buttons}])

    async def close(self) -> None:
        pass

    async def status(self) -> dict[str, Any]:
        return {"model_id": "fake"}


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with fake_wechat(APPID, SECRET) as running:
        yield running


def make_client(tmp_path: Path, fake: FakeWechat | None = None, **extra: Any) -> TestClient:
    settings = Settings(
        var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0, wechat_token=TOKEN,
        wechat_appid=APPID, wechat_secret=SECRET, wechat_aes_key=AES_KEY,
        wechat_api_base=fake.url if fake else "http://127.0.0.1:9", **extra,
    )  # fmt: skip
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path: Path, fake: FakeWechat) -> Iterator[TestClient]:
    with make_client(tmp_path, fake) as running:
        running.app.state.rasa = FakeBot()  # type: ignore[attr-defined]
        yield running


def bot_of(client: TestClient) -> FakeBot:
    bot: FakeBot = client.app.state.rasa  # type: ignore[attr-defined]
    return bot


def post(client: TestClient, xml: str, *, encrypt: bool = False, compatible: bool = False,
         timestamp: int | None = None) -> Reply:  # fmt: skip
    query, body = signed_request(CONFIG, xml, encrypt=encrypt, compatible=compatible,
                                 timestamp=timestamp)  # fmt: skip
    resp = client.post("/wechat", params=query, content=body)
    return open_reply(CONFIG, query, resp.status_code, resp.text)


def test_off_without_a_token_and_health_says_so(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path, knowledge_preload=False))) as off:
        assert off.get("/wechat", params={"echostr": "x"}).status_code == 404
        assert off.post("/wechat", content=b"<xml/>").status_code == 404
        assert off.get("/health").json()["channels"]["wechat"]["status"] == "off"


def test_url_check_echoes_only_a_signed_fresh_request(client: TestClient) -> None:
    query, _ = signed_request(CONFIG, message_xml("o1"))
    assert client.get("/wechat", params={**query, "echostr": "e-123"}).text == "e-123"
    bad = {**query, "signature": "0" * 40, "echostr": "e"}
    assert client.get("/wechat", params=bad).status_code == 403
    old, _ = signed_request(CONFIG, message_xml("o1"), timestamp=int(time.time()) - 3600)
    assert client.get("/wechat", params={**old, "echostr": "e"}).status_code == 403
    assert client.get("/health").json()["channels"]["wechat"] == {
        "status": "ok", "mode": "safe", "customer_service": True}  # fmt: skip


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_a_text_gets_the_bots_answer_passively_in_each_mode(client: TestClient, mode: str) -> None:
    xml = message_xml("o-text", Content="路灯坏了找谁")
    reply = post(client, xml, encrypt=mode == "safe", compatible=mode == "compatible")
    assert reply.status == 200
    if mode != "plain":
        assert "<Encrypt>" in reply.raw and "路灯" not in reply.raw  # the reply is encrypted
    assert reply.text == "收到：路灯坏了找谁\n\n请确认\n1. 确认提交\n2. 修改\n（回复数字选择）"
    parsed = xmltodict.parse(reply.raw)["xml"]
    if mode == "plain":
        assert parsed["ToUserName"] == "o-text" and parsed["MsgType"] == "text"
    (turn,) = bot_of(client).turns
    assert turn[0] == "wechat:o-text" and turn[2] == "wechat" and turn[3] == {"openid": "o-text"}


def test_forged_stale_malformed_and_oversized_requests_are_refused(client: TestClient) -> None:
    xml = message_xml("o-bad", Content="你好")
    query, body = signed_request(CONFIG, xml)
    assert client.post("/wechat", params={**query, "signature": "f" * 40}, content=body
                       ).status_code == 403  # fmt: skip
    assert post(client, xml, timestamp=int(time.time()) - 600).status == 403
    safe_query, safe_body = signed_request(CONFIG, xml, encrypt=True)
    forged = {**safe_query, "msg_signature": "0" * 40}
    assert client.post("/wechat", params=forged, content=safe_body).status_code == 403
    too_long = message_xml("o" * 65, Content="你好").encode()
    for broken in (b"<xml><MsgType>text", b"not xml", b"<xml></xml>", too_long):
        query, _ = signed_request(CONFIG, xml)
        assert client.post("/wechat", params=query, content=broken).status_code == 400
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<xml><Content>&b;</Content></xml>")  # fmt: skip
    query, _ = signed_request(CONFIG, xml)
    assert client.post("/wechat", params=query, content=bomb).status_code == 400
    query, _ = signed_request(CONFIG, xml)
    huge = message_xml("o-bad", Content="长" * 30000).encode()
    assert client.post("/wechat", params=query, content=huge).status_code == 413
    assert bot_of(client).turns == []


def test_events_and_other_message_types(client: TestClient) -> None:
    def say(msg_type: str, **fields: str) -> str | None:
        reply = post(client, message_xml("o-ev", msg_type, **fields))
        assert reply.status == 200, reply.raw
        return reply.text

    assert say("event", Event="subscribe") == messages.WELCOME
    assert post(client, message_xml("o-ev", "event", Event="unsubscribe")).raw == "success"
    assert say("event", Event="CLICK", EventKey="投诉建议") == messages.COMPLAINT_PROMPT
    assert say("event", Event="CLICK", EventKey="查询工单") == messages.NO_ORDERS
    assert say("event", Event="CLICK", EventKey="转人工", CreateTime="1").startswith("收到：转人工")
    unknown = say("image", PicUrl="http://x/y.jpg", MediaId="m1")  # not in the fake media API
    assert unknown == messages.IMAGE_NOT_KEPT
    assert say("voice", MediaId="m2", Format="amr", Recognition="噪音扰民").startswith(
        "收到：噪音扰民"
    )
    assert say("voice", MediaId="m3", Format="amr") == messages.VOICE_UNRECOGNISED
    assert say("video", MediaId="m4") == messages.OTHER
    assert say("link", Title="t", Url="http://x") == messages.OTHER
    located = say("location", Location_X="30.3", Location_Y="112.2", Scale="15", Label="幸福路12号")
    assert located == messages.location_ack("幸福路12号")  # nothing asked where: acknowledged
    assert [t[1] for t in bot_of(client).turns] == ["转人工", "噪音扰民"]


def test_a_location_answers_the_address_question_of_an_order_being_written(
    client: TestClient,
) -> None:
    post(client, message_xml("o-loc", Content="我要反映 请问地址怎么填"))
    reply = post(client, message_xml("o-loc", "location", Location_X="30.3", Location_Y="112.2",
                                      Scale="15", Label="城东区幸福路12号"))  # fmt: skip
    assert reply.text is not None and reply.text.startswith("收到：城东区幸福路12号")


def test_a_retry_storm_gets_one_turn_and_one_reply_through_the_customer_service_api(
    client: TestClient, fake: FakeWechat
) -> None:
    """The bot slowed past WeChat's 5 s: "success" at once, the reply sent once through the
    customer-service API, however often WeChat retries the message."""
    bot = bot_of(client)
    bot.delay = 5.5
    xml = message_xml("o-slow", Content="我要投诉噪音", msg_id=987654321)
    answers: list[Reply] = []

    def deliver() -> None:
        answers.append(post(client, xml, encrypt=True))

    started = time.monotonic()
    tries = [threading.Thread(target=deliver) for _ in range(3)]
    for t in tries:
        t.start()
        time.sleep(0.3)
    for t in tries:
        t.join()
    assert time.monotonic() - started < 5  # every try answered before WeChat gives up
    assert [a.raw for a in answers] == ["success"] * 3
    deadline = time.monotonic() + 10
    while not fake.sent and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(bot.turns) == 1
    assert fake.texts_to("o-slow") == [
        "收到：我要投诉噪音\n\n请确认\n1. 确认提交\n2. 修改\n（回复数字选择）"]  # fmt: skip
    assert post(client, xml).raw == "success"  # a late retry: still nothing doubled
    assert len(bot.turns) == 1 and len(fake.sent) == 1


def test_a_retry_after_a_passive_reply_gets_the_same_reply_without_a_second_turn(
    client: TestClient,
) -> None:
    xml = message_xml("o-again", Content="你好", msg_id=42)
    first, again = post(client, xml), post(client, xml)
    assert first.text == again.text and first.text is not None
    assert len(bot_of(client).turns) == 1
    events = [post(client, message_xml("o-again", "event", Event="subscribe", create_time=77))
              for _ in range(2)]  # fmt: skip
    assert [e.text for e in events] == [messages.WELCOME] * 2  # keyed by openid + CreateTime


def test_the_access_token_is_shared_and_replaced_when_wechat_refuses_it(
    client: TestClient, fake: FakeWechat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    from wechat.api import WechatApi

    api = WechatApi(client.app.state.settings)  # type: ignore[attr-defined]
    other = WechatApi(client.app.state.settings)  # type: ignore[attr-defined]  # another process

    async def run() -> None:
        await api.send_text("o-tok", "一")
        await other.send_text("o-tok", "二")  # the cached token: no second fetch
        assert fake.tokens_issued == ["token-1"]
        fake.invalid_once = True
        await other.send_text("o-tok", "三")  # refused once: refreshed at once and resent
        assert fake.tokens_issued == ["token-1", "token-2"]
        await api.send_text("o-tok", "四")  # the other process's fresh token from the DB
        assert fake.tokens_issued == ["token-1", "token-2"]
        await api.close()
        await other.close()

    asyncio.run(run())
    assert fake.texts_to("o-tok") == ["一", "二", "三", "四"]
    assert "/cgi-bin/token" in caplog.text and "access_token=***" in caplog.text
    assert SECRET not in caplog.text and "token-1" not in caplog.text  # never in a log line
    cached = store.cached_token(url, APPID)
    assert cached is not None and cached[0] == "token-2"


def test_a_token_close_to_expiry_is_refreshed_before_use(tmp_path: Path, fake: FakeWechat) -> None:
    from wechat.api import WechatApi

    fake.expires_in = 120  # less than the refresh margin: every use fetches a new one
    with make_client(tmp_path, fake) as running:
        api = WechatApi(running.app.state.settings)  # type: ignore[attr-defined]

        async def run() -> None:
            await api.send_text("o-exp", "一")
            await api.send_text("o-exp", "二")
            await api.close()

        asyncio.run(run())
    assert fake.tokens_issued == ["token-1", "token-2"]


def test_a_long_answer_is_split_the_rest_following_as_messages(
    client: TestClient, fake: FakeWechat
) -> None:
    reply = post(client, message_xml("o-long", Content="长答案"))
    assert reply.text is not None and len(reply.text.encode()) <= 2000
    deadline = time.monotonic() + 10
    while not fake.sent and time.monotonic() < deadline:
        time.sleep(0.1)
    rest = fake.texts_to("o-long")
    assert rest and all(len(t.encode()) <= 2000 for t in rest)
    assert (reply.text + "".join(rest)).replace("\n", "") == "政策条文" * 40 * 12


def test_two_app_processes_on_postgresql_run_a_retried_message_once(
    tmp_path: Path, fake: FakeWechat, postgres_url: str
) -> None:
    """Two app instances (replicas) sharing PostgreSQL: WeChat's retry reaches the other one."""
    first = make_client(tmp_path / "a", fake, database_url=postgres_url)
    second = make_client(tmp_path / "b", fake, database_url=postgres_url)
    with first, second:
        bots = [FakeBot(), FakeBot()]
        for app_client, bot in zip((first, second), bots, strict=True):
            bot.delay = 5.5
            app_client.app.state.rasa = bot  # type: ignore[attr-defined]
        xml = message_xml("o-pg", Content="我要反映噪音", msg_id=20261206)
        answers: list[Reply] = []
        tries = [threading.Thread(target=lambda c=c: answers.append(post(c, xml, encrypt=True)))
                 for c in (first, second, first)]  # fmt: skip
        for t in tries:
            t.start()
            time.sleep(0.2)
        for t in tries:
            t.join()
        assert [a.raw for a in answers] == ["success"] * 3
        deadline = time.monotonic() + 10
        while not fake.sent and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    assert sum(len(b.turns) for b in bots) == 1
    assert len(fake.texts_to("o-pg")) == 1


def amr_of_recording(uid: str = "r04") -> bytes:
    """A recording the ASR benchmark ships (r04: 我要投诉。) as WeChat's AMR-NB voice."""
    from tests.speech.fixtures.synth import require_tools

    require_tools()
    flac = Path(__file__).resolve().parents[2] / "bench" / "data" / "asr_audio" / f"{uid}.flac"
    return subprocess.run(
        ["sox", "-q", "-D", str(flac), "-r", "8000", "-c", "1", "-t", "amr-nb", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


class HeardAudio:
    """An ASR engine that reports how much audio it was given (the recogniser's interface)."""

    name = "fake"

    def __init__(self) -> None:
        self.samples = 0

    def recognizer(self, sample_rate: int, phrases: Any = None) -> Any:
        engine = self

        class Rec:
            def accept(self, pcm: bytes) -> list[Recognition]:
                engine.samples += len(pcm) // 2
                return []

            def finish(self) -> list[Recognition]:
                return [Recognition("我要投诉", True, 0.9, 0.0, 1.0)]

            def reset(self) -> None:
                pass

        return Rec()


def test_a_voice_message_without_recognition_is_downloaded_decoded_and_recognised(
    client: TestClient, fake: FakeWechat
) -> None:
    from gateway.wechat_api import WechatChannel

    fake.media["voice-1"] = amr_of_recording()
    heard = HeardAudio()
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.wechat = WechatChannel(settings, asr=lambda: heard)  # type: ignore[attr-defined]
    voice = message_xml("o-voice", "voice", MediaId="voice-1", Format="amr")
    assert (
        post(client, voice).text
        == "收到：我要投诉\n\n请确认\n1. 确认提交\n2. 修改\n（回复数字选择）"
    )
    assert heard.samples > 16000  # the decoded recording at 16 kHz, over a second with the pad
    missing = message_xml("o-voice", "voice", MediaId="gone", Format="amr")
    assert post(client, missing).text == messages.VOICE_UNRECOGNISED  # WeChat: invalid media_id
    assert [t[1] for t in bot_of(client).turns] == ["我要投诉"]


def test_message_keys_a_day_old_are_dropped_hourly(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from hotline.db import session_scope

    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    post(client, message_xml("o-old", Content="你好", msg_id=1))
    with session_scope(url) as session:
        old = datetime.now(UTC) - timedelta(days=2)
        session.execute(update(store.WechatMessage).values(received_at=old))
    client.app.state.wechat.pruned_at -= 3601  # type: ignore[attr-defined]  # an hour later
    post(client, message_xml("o-old", Content="你好", msg_id=2))
    time.sleep(0.5)
    assert store.claim(url, "msg:1", "o-old") is None  # forgotten: a new delivery
    assert store.claim(url, "msg:2", "o-old") is not None
