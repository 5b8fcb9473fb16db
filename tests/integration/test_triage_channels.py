"""One table of citizen messages through chat, the REST triage endpoint and the voice channel of
the real stack (Rasa + app): every channel acts on the same decision."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hotline.serve import Isolated

pytestmark = pytest.mark.stack

TABLE = [
    ("孩子转学需要办理什么手续？", "answer"),
    ("我不要机器人 给我转人工", "handoff"),
    ("厨房着火了 烟很大", "emergency"),
    ("帮我查一下工单20261122-0042", "status"),
    ("你们晚上几点下班", "service_hours"),
    ("我要投诉楼下烧烤店天天半夜吵得睡不着", "order_draft"),
    ("给我讲个笑话吧", "abstain"),
    ("你是机器人还是真人啊", "about_bot"),
    ("我在武汉上班 公积金贷款最多能贷多少钱", "abstain"),  # the KB has 咸宁's ceiling only
]


def _chat(stack: Isolated, channel: str, text: str, staff: dict[str, str]) -> dict:
    """A web turn as a browser sends it; a voice turn as a trusted client (the voice channel
    cannot be claimed anonymously)."""
    body = {"sender": uuid.uuid4().hex[:12], "text": text, "channel": channel}
    headers = staff if channel == "voice" else {}
    resp = httpx.post(f"{stack.url}/api/v1/chat", json=body, headers=headers, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["decision"]


@pytest.mark.parametrize(("text", "kind"), TABLE)
def test_chat_rest_and_voice_get_the_same_decision(
    stack: Isolated, staff: dict[str, str], text: str, kind: str
) -> None:
    rest = httpx.post(f"{stack.url}/api/v1/triage", json={"text": text}, timeout=60)
    assert rest.status_code == 200, rest.text
    decisions = {
        "rest": rest.json(),
        "web": _chat(stack, "web", text, staff),
        "voice": _chat(stack, "voice", text, staff),
    }
    kinds = {channel: d["kind"] for channel, d in decisions.items()}
    assert set(kinds.values()) == {kind}, kinds
    assert len({d["handoff"] for d in decisions.values()}) == 1
    if kind == "answer":
        assert len({d["entry"]["id"] for d in decisions.values()}) == 1


def test_another_citys_rule_is_not_given_as_the_citizens_own(stack: Isolated) -> None:
    """武汉's citizen got 咸宁's ceiling as the answer ("有。根据咸宁…"); 咸宁's is answered."""
    asked = {"text": "我在武汉上班 灵活就业交公积金政府有补贴吗"}
    other = httpx.post(f"{stack.url}/api/v1/triage", json=asked, timeout=60).json()
    assert (other["kind"], other["reason"], other["city"]) == ("abstain", "other_city", "武汉")
    own = {"text": "咸宁灵活就业人员缴存公积金有补贴吗"}
    assert httpx.post(f"{stack.url}/api/v1/triage", json=own, timeout=60).json()["kind"] in (
        "answer", "clarify")  # fmt: skip
