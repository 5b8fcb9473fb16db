"""The key the app sends with a conversation's requests to Rasa, for the balancer to keep the
conversation on one Rasa server (gateway/rasa_client.py, deploy/nginx/hotline.conf.template;
tests/cluster/test_cluster.py shows the turns staying on one server)."""

from __future__ import annotations

from gateway.rasa_client import CONVERSATION_HEADER, conversation_key


def test_one_conversation_one_key_and_no_callers_number_in_it() -> None:
    caller = "voice:13812345678"
    key = conversation_key(caller)[CONVERSATION_HEADER]
    assert key == conversation_key(caller)[CONVERSATION_HEADER]
    assert key != conversation_key("voice:13812345679")[CONVERSATION_HEADER]
    assert "1381234" not in key and key.isascii() and len(key) == 16
    assert conversation_key("web:张三的会话")[CONVERSATION_HEADER].isascii()  # a header is ASCII
