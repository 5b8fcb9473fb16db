"""When a call goes to a person, and what the caller hears before it.

The bot's triage decision decides, as on every other channel — never the NLU intent alone. A
decision with `handoff` true transfers: for a person asked for (kind "handoff") the caller hears
only the bot's first message, the transfer line (what follows is the chat's callback form, which
the operator makes unnecessary); for an emergency, all of the guidance (hang up, dial 110/119/120).
A conversation a person has taken over (state != "bot") and a bot that failed transfer too.
"""

from __future__ import annotations

from speech.call_types import BotReply
from speech.prompts import BOT_DOWN, TRANSFER


def transfer_for(reply: BotReply) -> tuple[str, str] | None:
    """(what to say, the outcome's reason) when `reply` ends the call with a transfer, else None.

    The reason is the decision's own ("asked", …), "emergency" for an emergency (the dialplan
    queues those first), "bot_handoff" when a person took over, "bot_unavailable" on an error.
    """
    if reply.error:
        return BOT_DOWN, "bot_unavailable"
    decision = reply.decision
    if decision is not None and decision.get("handoff") is True:
        kind = str(decision.get("kind") or "handoff")
        if kind == "emergency":
            return reply.text or TRANSFER, "emergency"
        said = BotReply(reply.messages[:1]).text if kind == "handoff" else reply.text
        return said or TRANSFER, str(decision.get("reason") or kind)
    if reply.state != "bot":
        return reply.text or TRANSFER, "bot_handoff"
    return None
