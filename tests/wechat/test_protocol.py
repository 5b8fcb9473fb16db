"""WeChat's protocol: signatures and their replay window, the three modes, safe parsing."""

from __future__ import annotations

import time

import pytest

from wechat.protocol import Refused, WechatConfig, check_request, dedupe_key, read_message, sign
from wechat.simulate import message_xml, signed_request

CONFIG = WechatConfig("tok", "wx-app", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", 300)


def test_signature_is_wechats_sha1_of_the_sorted_parts() -> None:
    # The example of WeChat's documentation: sha1 of the sorted token, timestamp, nonce.
    assert sign("tok", "1700000000", "n1") == sign("n1", "tok", "1700000000")
    query = {"signature": sign("tok", "1700000000", "n1"), "timestamp": "1700000000", "nonce": "n1"}
    check_request(CONFIG, query, now=1700000000 + 299)
    with pytest.raises(Refused) as late:
        check_request(CONFIG, query, now=1700000000 + 301)
    assert late.value.status == 403
    with pytest.raises(Refused):
        check_request(CONFIG, {**query, "timestamp": "x"}, now=0)


@pytest.mark.parametrize(("encrypt", "compatible"), [(False, False), (True, False), (False, True)])
def test_each_mode_opens_to_the_same_message(encrypt: bool, compatible: bool) -> None:
    xml = message_xml("o1", Content="你好 <&>", msg_id=7)
    query, body = signed_request(CONFIG, xml, encrypt=encrypt, compatible=compatible)
    incoming = read_message(CONFIG, query, body)
    assert incoming.message.content == "你好 <&>" and incoming.message.source == "o1"
    assert incoming.encrypted == (encrypt or compatible)
    assert dedupe_key(incoming.message) == "msg:7"


def test_a_message_for_another_account_or_key_is_refused() -> None:
    xml = message_xml("o1", Content="你好")
    other = WechatConfig("tok", "wx-other", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg")
    query, body = signed_request(other, xml, encrypt=True)
    with pytest.raises(Refused) as refused:
        read_message(CONFIG, query, body)  # the key differs: not decryptable or not ours
    assert refused.value.status in (400, 403)
    plain_only = WechatConfig("tok")
    with pytest.raises(Refused) as no_key:
        read_message(plain_only, *signed_request(CONFIG, xml, encrypt=True))
    assert no_key.value.status == 400


def test_entities_are_never_expanded() -> None:
    xml = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>'
    query, _ = signed_request(CONFIG, "<xml/>", timestamp=int(time.time()))
    with pytest.raises(Refused) as refused:
        read_message(CONFIG, query, xml)
    assert refused.value.status == 400


def test_long_replies_are_split_within_wechats_2048_bytes() -> None:
    from wechat.messages import CONTINUED, shortened, split_text

    text = "\n".join(f"第{i}条：" + "长" * 150 for i in range(10)) + "\n" + "字" * 1500
    parts = split_text(text)
    assert all(len(p.encode()) <= 2000 for p in parts) and len(parts) > 2
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("短") == ["短"]
    short = shortened(text)
    assert short.endswith(CONTINUED) and len(short.encode()) <= 2000
