"""The WeChat API calls the channel makes: the access token (fetched with appid/secret, kept in
the database for every process, refreshed before it expires and at once when WeChat says it is
invalid) and customer-service text messages (客服消息), the reply path when the bot takes
longer than WeChat waits for a passive reply.

httpx (async, as the rest of the gateway) rather than wechatpy's requests-based client, whose
token cache is per process; the protocol side (signatures, crypto, parsing) is wechatpy's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from hotline.settings import Settings
from wechat import store

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # a token this close to expiry is replaced
INVALID_TOKEN = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
OUT_OF_WINDOW = 45015  # the citizen's last message is older than 48 h


_SECRET_IN_URL = re.compile(r"((?:access_token|secret)=)[^&\s\"]+")


class RedactSecrets(logging.Filter):
    """httpx logs every request URL at INFO; WeChat wants the AppSecret and the access token
    in the query string, and neither may reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "secret=" in message or "access_token=" in message:
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1***", message), None
        return True


_REDACT = RedactSecrets()


def redact_http_logs() -> None:
    """Install the filter on httpx's logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)


class WechatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode


class MediaTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"media of at least {size} bytes")
        self.size = size


class WechatApi:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.url = settings.database_url
        self.base = settings.wechat_api_base.rstrip("/")
        self.appid = settings.wechat_appid
        self._secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else ""
        self._client = client or httpx.AsyncClient(timeout=10)
        self._refresh = asyncio.Lock()  # one refresh per process at a time
        redact_http_logs()

    @property
    def configured(self) -> bool:
        return bool(self.appid and self._secret)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        resp = await self._client.request(method, f"{self.base}{path}", **kwargs)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        if data.get("errcode"):
            raise WechatApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        return data

    async def access_token(self, *, stale: str | None = None) -> str:
        """The shared token; a new one when it expires soon or equals `stale` (refused)."""
        cached = await asyncio.to_thread(store.cached_token, self.url, self.appid)
        if cached and cached[0] != stale and cached[1] - datetime.now(UTC) > REFRESH_MARGIN:
            return cached[0]
        async with self._refresh:
            cached = await asyncio.to_thread(store.cached_token, self.url, self.appid)
            if cached and cached[0] != stale and cached[1] - datetime.now(UTC) > REFRESH_MARGIN:
                return cached[0]  # refreshed while this one waited
            data = await self._call("GET", "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.appid, "secret": self._secret,
            })  # fmt: skip
            token = str(data["access_token"])
            lifetime = timedelta(seconds=int(data.get("expires_in", 7200)))
            await asyncio.to_thread(store.store_token, self.url, self.appid, token, lifetime)
            log.info("WeChat access token refreshed for %s (valid %s)", self.appid, lifetime)
            return token

    async def _with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self.access_token()
        # ensure_ascii=False: WeChat shows \uXXXX escapes literally in some clients
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            return await self._call("POST", path, params={"access_token": token},
                                    content=content, headers=headers)  # fmt: skip
        except WechatApiError as exc:
            if exc.errcode not in INVALID_TOKEN:
                raise
            token = await self.access_token(stale=token)
            return await self._call("POST", path, params={"access_token": token},
                                    content=content, headers=headers)  # fmt: skip

    async def media(self, media_id: str, max_bytes: int = 10 * 1024 * 1024) -> bytes:
        """A temporary media file the citizen sent (voice: AMR; image: JPEG), kept by WeChat
        for 3 days. Read as a stream: a file over `max_bytes` raises MediaTooLarge unread."""
        stale: str | None = None
        for _ in range(2):
            token = await self.access_token(stale=stale)
            params = {"access_token": token, "media_id": media_id}
            url = f"{self.base}/cgi-bin/media/get"
            async with self._client.stream("GET", url, params=params) as resp:
                resp.raise_for_status()
                kind = resp.headers.get("content-type", "")
                if not kind.startswith(("application/json", "text/")):
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise MediaTooLarge(int(declared))
                    body = bytearray()
                    async for chunk in resp.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise MediaTooLarge(len(body))
                    return bytes(body)
                data = json.loads(await resp.aread())  # an error comes as JSON
            errcode = int(data.get("errcode", -1))
            if errcode not in INVALID_TOKEN or stale:
                raise WechatApiError(errcode, str(data.get("errmsg", "")))
            stale = token
        raise AssertionError("unreachable")

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message to the citizen (within 48 h of their message)."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._with_token("/cgi-bin/message/custom/send", body)
