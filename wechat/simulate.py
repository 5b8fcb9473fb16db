"""WeChat's side of the protocol, for `hotline wechat simulate` and the tests: builds messages
as WeChat's servers send them (signed; encrypted with wechatpy in safe mode), posts them to an
endpoint and opens the reply."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import httpx
import xmltodict

from wechat.protocol import WechatConfig, sign


def message_xml(
    openid: str,
    msg_type: str = "text",
    *,
    account: str = "gh_12345hotline",
    msg_id: int | None = None,
    create_time: int | None = None,
    **fields: str,
) -> str:
    """A message or event as WeChat posts it (`fields`: Content, Event, EventKey, Label, ...)."""
    parts = {
        "ToUserName": account,
        "FromUserName": openid,
        "CreateTime": str(create_time or int(time.time())),
        "MsgType": msg_type,
        **fields,
    }
    if msg_type != "event":
        parts["MsgId"] = str(msg_id if msg_id is not None else secrets.randbelow(10**15))
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in parts.items())
    return f"<xml>{inner}</xml>"


def signed_request(
    config: WechatConfig,
    xml: str,
    *,
    encrypt: bool = False,
    compatible: bool = False,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query string and body WeChat would send: plain, safe (only <Encrypt>) or
    compatible (the plain fields and <Encrypt>)."""
    ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
    query = {"signature": sign(config.token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if not (encrypt or compatible):
        return query, xml.encode("utf-8")
    envelope = xmltodict.parse(config.crypto().encrypt_message(xml, nonce, ts))["xml"]
    query |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"],
              "openid": _field(xml, "FromUserName")}  # fmt: skip
    encrypted = f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
    if compatible:
        body = xml.replace("</xml>", encrypted + "</xml>")
    else:
        account = escape(_field(xml, "ToUserName"))
        body = f"<xml><ToUserName><![CDATA[{account}]]></ToUserName>{encrypted}</xml>"
    return query, body.encode("utf-8")


def _field(xml: str, name: str) -> str:
    return str(xmltodict.parse(xml)["xml"].get(name, ""))


@dataclass(frozen=True)
class Reply:
    status: int
    text: str | None  # the reply's Content; None for "success" or an error
    raw: str


def open_reply(config: WechatConfig, query: dict[str, str], status: int, body: str) -> Reply:
    """The text of a passive reply (decrypted when encrypted)."""
    if status != 200 or body.strip() in ("", "success") or not body.lstrip().startswith("<"):
        return Reply(status, None, body)
    fields: dict[str, Any] = xmltodict.parse(body)["xml"]
    if "Encrypt" in fields:
        xml = config.crypto().decrypt_message(
            fields, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
        )
        fields = xmltodict.parse(xml)["xml"]
    return Reply(status, fields.get("Content"), body)


def post(
    url: str, config: WechatConfig, xml: str, *, encrypt: bool = False, timeout: float = 10
) -> Reply:
    """Send one message to a running endpoint the way WeChat does; the reply opened."""
    query, body = signed_request(config, xml, encrypt=encrypt)
    resp = httpx.post(url, params=query, content=body, timeout=timeout,
                      headers={"Content-Type": "text/xml"})  # fmt: skip
    return open_reply(config, query, resp.status_code, resp.text)
