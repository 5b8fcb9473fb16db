"""WeChat's server protocol on top of wechatpy: request signatures with a replay window, the
plain, compatible and safe (AES) modes, safe XML parsing and rendering of passive replies.

Pure functions over a `WechatConfig`, so the endpoint, the simulator and the tests share them.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from hotline.settings import Settings

MAX_BODY = 64 * 1024  # WeChat's messages are a few KB; anything bigger is not WeChat


class Refused(Exception):
    """A request WeChat did not send (403) or could not have sent in this form (400)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WechatConfig:
    token: str
    appid: str = ""
    aes_key: str | None = None  # EncodingAESKey (43 characters); None: plain mode only
    replay_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> WechatConfig | None:
        """None when the channel is off (no token)."""
        if settings.wechat_token is None or not settings.wechat_token.get_secret_value():
            return None
        aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        return cls(settings.wechat_token.get_secret_value(), settings.wechat_appid,
                   aes or None, settings.wechat_replay_seconds)  # fmt: skip

    def crypto(self) -> WeChatCrypto:
        if not self.aes_key:
            raise Refused(400, "encrypted message but no EncodingAESKey is configured")
        return WeChatCrypto(self.token, self.aes_key, self.appid)


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts (token, timestamp, nonce[, Encrypt])."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def check_request(config: WechatConfig, query: dict[str, str], now: float | None = None) -> None:
    """The `signature` of every request WeChat sends, and a timestamp within the replay
    window (a captured request cannot be replayed later). Raises Refused(403)."""
    signature, timestamp, nonce = (query.get(k, "") for k in ("signature", "timestamp", "nonce"))
    expected = sign(config.token, timestamp, nonce)
    if not signature or not hmac.compare_digest(expected, signature):
        raise Refused(403, "bad signature")
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError as exc:
        raise Refused(403, "bad timestamp") from exc
    if age > config.replay_seconds:
        raise Refused(403, "timestamp outside the replay window")


def _xml_fields(body: bytes) -> dict[str, Any]:
    """The <xml> element's children. No DTD is accepted (WeChat never sends one), so no entity
    can be declared, let alone expanded; expat resolves no external entities either."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise Refused(400, "XML with a DTD")
    try:
        parsed = xmltodict.parse(body.decode("utf-8"), disable_entities=True)
    except Exception as exc:  # expat errors, bad UTF-8
        raise Refused(400, "malformed XML") from exc
    fields = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(fields, dict):
        raise Refused(400, "no <xml> element")
    return fields


@dataclass(frozen=True)
class Incoming:
    """One message as WeChat delivered it, decrypted and parsed."""

    message: BaseMessage
    encrypted: bool  # reply encrypted too (safe and compatible modes with encrypt_type=aes)
    xml: str


def read_message(config: WechatConfig, query: dict[str, str], body: bytes) -> Incoming:
    """Check and open a POSTed message (plain, compatible or safe mode)."""
    check_request(config, query)
    if len(body) > MAX_BODY:
        raise Refused(413, "message too large")
    fields = _xml_fields(body)
    encrypted = query.get("encrypt_type", "raw").lower() == "aes"
    xml = body.decode("utf-8")
    if encrypted:
        if "Encrypt" not in fields:
            raise Refused(400, "encrypt_type=aes without <Encrypt>")
        crypto = config.crypto()
        try:
            xml = crypto.decrypt_message(fields, query.get("msg_signature", ""),
                                         query["timestamp"], query["nonce"])  # fmt: skip
        except InvalidSignatureException as exc:
            raise Refused(403, "bad msg_signature") from exc
        except InvalidAppIdException as exc:
            raise Refused(403, "message for another AppID") from exc
        except Exception as exc:  # padding, base64: not a message of this key
            raise Refused(400, "undecryptable message") from exc
        fields = _xml_fields(xml.encode("utf-8"))
    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise Refused(400, "MsgType and FromUserName are required")
    if len(str(fields["FromUserName"])) > 64:  # openids are 28 characters
        raise Refused(400, "FromUserName too long")
    return Incoming(parse_message(xml), encrypted, xml)


def echo(config: WechatConfig, query: dict[str, str]) -> str:
    """The URL check when a centre saves its server configuration: echo `echostr`."""
    check_request(config, query)
    return query.get("echostr", "")


def dedupe_key(message: BaseMessage) -> str:
    """MsgId for messages; FromUserName + CreateTime for events (they have no MsgId), with the
    event and its key so two different events in the same second stay two."""
    if message.type == "event" or not message.id:
        event = getattr(message, "event", message.type)
        return f"event:{message.source}:{message.time}:{event}:{getattr(message, 'key', '')}"[:160]
    return f"msg:{message.id}"


def render_text(config: WechatConfig, incoming: Incoming, text: str, nonce: str) -> str:
    """The passive reply XML (encrypted when the message was)."""
    xml = TextReply(message=incoming.message, content=text).render()
    if incoming.encrypted:
        return str(config.crypto().encrypt_message(xml, nonce, str(int(time.time()))))
    return str(xml)
