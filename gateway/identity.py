"""Which channel and citizen a chat turn is for, from what the transport can vouch for.

The public chat API is reached by any browser, so what it says about the citizen is a claim:
unless the caller is a signed-in centre client (an operator's or admin's tool, a test or
benchmark harness), the channel can only be web or api, and the identity keys of the metadata
(caller number, openid) are dropped before anything reads them. Voice and WeChat identities
come from their own transports (the PBX's registration and AudioSocket, a signed WeChat
request), which call `run_turn` directly and never pass through here.
"""

from __future__ import annotations

from typing import Any

from accounts.roles import Role
from accounts.users import Principal

# Metadata keys that would name the citizen to the actions (actions/citizen.py and the voice
# session's metadata); a claim of any of them from an untrusted client is dropped.
IDENTITY_KEYS = frozenset(
    {"caller_number", "caller", "openid", "wechat_openid", "FromUserName", "citizen_phone"}
)
TRUSTED_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})
TRUSTED_CHANNELS = frozenset({"wechat", "voice"})  # need a transport that proves the identity


def citizen_channel(
    channel: str, metadata: dict[str, Any], user: Principal | None
) -> tuple[str, dict[str, Any]]:
    """The channel and metadata a turn is run with: as sent by a trusted client; otherwise
    wechat/voice become web and identity keys are removed."""
    if user is not None and user.role in TRUSTED_ROLES:
        return channel, metadata
    kept = {k: v for k, v in metadata.items() if k not in IDENTITY_KEYS}
    return ("web" if channel in TRUSTED_CHANNELS else channel), kept
