"""`hotline wechat simulate`: talk to a running /wechat endpoint the way WeChat's servers do.

Uses the endpoint's own HOTLINE_WECHAT_TOKEN / _APPID / _AES_KEY (from the environment or .env)
unless given; each TEXT is one message, sent in order, and each reply is printed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hotline.settings import get_settings
from wechat.protocol import WechatConfig
from wechat.simulate import message_xml, post

app = typer.Typer(help="The WeChat Official Account channel.", no_args_is_help=True)


@app.command("simulate")
def simulate(
    texts: Annotated[list[str] | None, typer.Argument(help="messages to send, in order")] = None,
    url: Annotated[str, typer.Option(help="the endpoint; default PUBLIC_URL/wechat")] = "",
    openid: Annotated[str, typer.Option(help="the citizen's openid")] = "o-simulator",
    event: Annotated[str, typer.Option(help="send an event first: subscribe, CLICK")] = "",
    key: Annotated[str, typer.Option(help="EventKey of a CLICK, e.g. 查询工单")] = "",
    encrypt: Annotated[
        bool | None, typer.Option("--encrypt/--plain", help="default: encrypted if AES key set")
    ] = None,
    token: Annotated[str, typer.Option(help="default HOTLINE_WECHAT_TOKEN")] = "",
) -> None:
    """Send signed (optionally AES-encrypted) messages and print the replies."""
    settings = get_settings()
    config = WechatConfig.from_settings(settings)
    if token:
        aes = config.aes_key if config else None
        config = WechatConfig(token, settings.wechat_appid, aes, settings.wechat_replay_seconds)
    if config is None:
        typer.echo("HOTLINE_WECHAT_TOKEN is not set (or pass --token)", err=True)
        raise typer.Exit(2)
    endpoint = url or f"{settings.public_url.rstrip('/')}/wechat"
    secret = bool(config.aes_key) if encrypt is None else encrypt
    messages = []
    if event:
        fields: dict[str, Any] = {"Event": event, **({"EventKey": key} if key else {})}
        shown = f"[{event} {key}]" if key else f"[{event}]"
        messages.append((shown, message_xml(openid, "event", **fields)))
    messages += [(text, message_xml(openid, Content=text)) for text in texts or []]
    for said, xml in messages:
        reply = post(endpoint, config, xml, encrypt=secret, timeout=30)
        typer.echo(f"> {said}")
        if reply.status != 200:
            typer.echo(f"HTTP {reply.status}: {reply.raw}", err=True)
            raise typer.Exit(1)
        typer.echo(reply.text if reply.text is not None else
                   "(success: the reply follows through the customer-service API)")  # fmt: skip
