"""Stopping the AudioSocket listener with a call up: the caller is told, the call is
transferred (AudioSocket() ends, the dialplan continues) and the outcome says why. Engines and
bot are the doubles of tests/speech/doubles.py; TCP, framing and pacing are real."""

from __future__ import annotations

import asyncio
import uuid

from speech.prompts import SHUTDOWN
from tests.speech.doubles import tone
from tests.speech.test_audiosocket import GREETING_SECONDS, TTS_MS_PER_CHAR, Rig

SHUTDOWN_SECONDS = len(SHUTDOWN) * TTS_MS_PER_CHAR / 1000


async def _stopped_during(rig: Rig, moment: str) -> tuple[str, str, float, bool]:
    await rig.server.start()
    call_id = str(uuid.uuid4())
    pbx = await rig.call(call_id)
    if moment == "greeting":
        await pbx.heard(0.1)
    else:  # listening after the greeting
        await pbx.heard(GREETING_SECONDS)
    heard_before = len(pbx.audio) / 16000
    async with asyncio.timeout(30):  # guards against a hang only
        await rig.server.stop(grace=10)
        await pbx.hung_up.wait()
        await pbx.closed.wait()
    rig.center.close()
    outcome = await rig.outcome(call_id)
    told = len(pbx.audio) / 16000 - heard_before >= SHUTDOWN_SECONDS
    return outcome.outcome, outcome.reason, heard_before, told


def test_a_call_is_told_and_transferred_when_the_listener_stops_while_listening() -> None:
    rig = Rig()
    outcome, reason, _, told = asyncio.run(_stopped_during(rig, "listening"))
    assert (outcome, reason) == ("transfer", "server_stop")
    assert told  # the whole SHUTDOWN prompt was played before the hang-up frame
    assert rig.hooks.outcomes[0].transcript[-1]["text"] == SHUTDOWN
    assert rig.hooks.outcomes[0].queue == "12345"


def test_a_greeting_is_cut_short_and_the_caller_transferred() -> None:
    rig = Rig()
    outcome, reason, heard_before, told = asyncio.run(_stopped_during(rig, "greeting"))
    assert (outcome, reason) == ("transfer", "server_stop")
    assert heard_before < GREETING_SECONDS and told


def test_a_bot_turn_in_flight_finishes_before_the_call_is_transferred() -> None:
    """The turn the bot already saw is answered and logged; then the caller is told."""

    async def main(rig: Rig) -> tuple[str, str, list[str]]:
        await rig.server.start()
        call_id = str(uuid.uuid4())
        pbx = await rig.call(call_id)
        await pbx.heard(GREETING_SECONDS)
        rig.asr.hear("我想咨询公积金")
        await pbx.speak(tone(200))
        while not rig.hooks.bots.get(call_id) or not rig.hooks.bots[call_id].texts:
            await asyncio.sleep(0.01)
        async with asyncio.timeout(30):
            await rig.server.stop(grace=10)
            await pbx.closed.wait()
        rig.center.close()
        outcome = await rig.outcome(call_id)
        said = [e["text"] for e in outcome.transcript if e["who"] != "caller"]
        return outcome.outcome, outcome.reason, said

    rig = Rig()
    outcome, reason, said = asyncio.run(main(rig))
    assert (outcome, reason) == ("transfer", "server_stop")
    assert rig.hooks.bots[next(iter(rig.hooks.bots))].texts == ["我想咨询公积金"]
    assert said[-1] == SHUTDOWN


def test_no_call_is_taken_once_stopping() -> None:
    async def main(rig: Rig) -> bool:
        await rig.server.start()
        port = rig.server.port
        await rig.server.stop(grace=1)
        rig.center.close()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return True
        writer.close()
        return False

    assert asyncio.run(main(Rig()))
