"""A WeChat citizen's picture: downloaded through the media API of the local fake WeChat,
checked (a picture, under the size limit), kept, attached to the conversation's next stored
order, and shown to the staff who may see that order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.wechat_api import PICTURE_LINE
from hotline.settings import Settings
from tests import signin
from tests.gateway.test_wechat_api import AES_KEY, TOKEN, FakeBot, make_client, post
from tests.gateway.test_wechat_handoff import PausingBot, _ask_person
from tests.wechat.fake_api import FakeWechat, fake_wechat
from tests.wechat.pictures import PNG
from wechat import messages
from wechat.simulate import message_xml
from workorders import attachments, intake, pictures
from workorders.store import Draft


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with fake_wechat() as running:
        running.media.update({"img-ok": PNG, "img-big": PNG + b"\0" * 4096, "img-text": b"hi"})
        running.media_types.update(dict.fromkeys(running.media, "image/jpeg"))
        yield running


def _order(client: TestClient, conversation: str, text: str) -> str:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    draft = Draft(channel="wechat", request_text=text, kind="投诉",
                  citizen_phone="13812345678", conversation_id=conversation)  # fmt: skip
    return intake.submit(settings.database_url, draft, settings=settings, auto_route=False).number


def _image(client: TestClient, openid: str, media: str) -> str | None:
    return post(client, message_xml(openid, "image", PicUrl="http://x/p.jpg", MediaId=media)).text


def test_a_picture_goes_with_the_next_order_and_staff_see_it(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with make_client(tmp_path, fake, wechat_image_max_bytes=1024) as client:
        client.app.state.rasa = FakeBot()  # type: ignore[attr-defined]
        url = client.app.state.settings.database_url  # type: ignore[attr-defined]
        assert _image(client, "o-img", "img-ok") == messages.IMAGE_KEPT
        assert _image(client, "o-img", "img-big") == messages.IMAGE_TOO_LARGE.format(limit=1)
        assert _image(client, "o-img", "img-text") == messages.IMAGE_NOT_KEPT  # not a picture
        assert _image(client, "o-img", "img-gone") == messages.IMAGE_NOT_KEPT  # WeChat: 40007

        number = _order(client, "wechat:o-img", "路口的路灯坏了一个月了没人修")
        later = _order(client, "wechat:o-img", "小区门口的井盖丢了很危险")
        [kept] = attachments.listed(url, number)  # on 受理, the citizen's own step
        assert (kept.content_type, kept.event_seq, kept.uploaded_by) == (
            "image/png",
            1,
            pictures.CITIZEN,
        )
        assert attachments.listed(url, later) == []  # the picture went with the first

        operator = signin.bearer(url, "operator")
        [shown] = client.get(f"/api/v1/work-orders/{number}/attachments",
                             headers=operator).json()  # fmt: skip
        assert shown["media_type"] == "image/png" and shown["size"] == len(PNG)
        assert shown["filename"].endswith(".png")
        picture = client.get(shown["url"], headers=operator)
        assert picture.status_code == 200 and picture.content == PNG
        assert picture.headers["content-type"] == "image/png"
        assert client.get(f"/api/v1/work-orders/{later}/attachments/{shown['id']}",
                          headers=operator).status_code == 404  # not that order's  # fmt: skip
        other = signin.bearer(url, "department", "市交通运输局")
        assert client.get(f"/api/v1/work-orders/{number}/attachments",
                          headers=other).status_code == 404  # fmt: skip


def test_without_the_media_api_a_picture_is_not_kept(tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        knowledge_preload=False,
        sla_scan_seconds=0,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY,
    )  # no AppID/AppSecret
    with TestClient(create_app(settings)) as client:
        client.app.state.rasa = FakeBot()  # type: ignore[attr-defined]
        assert _image(client, "o-noapi", "img-ok") == messages.IMAGE_NOT_KEPT


def test_an_operator_who_has_the_conversation_sees_a_picture_came(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with make_client(tmp_path, fake) as client:
        bot = PausingBot()
        client.app.state.rasa = bot  # type: ignore[attr-defined]
        url = client.app.state.settings.database_url  # type: ignore[attr-defined]
        op = signin.bearer(url, "operator")
        client.post("/api/v1/operators/me/status", json={"status": "available"}, headers=op)
        handoff = _ask_person(client, "o-pic")
        client.post(f"/api/v1/handoffs/{handoff}/accept", headers=op)
        assert _image(client, "o-pic", "img-ok") == messages.IMAGE_KEPT
        lines = client.get(f"/api/v1/handoffs/{handoff}", headers=op).json()["transcript"]
        assert (lines[-1]["author"], lines[-1]["text"]) == ("citizen", PICTURE_LINE)
        assert bot.turns == []
