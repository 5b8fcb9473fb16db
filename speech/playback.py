"""Speaking on a call: replies cut into sentence pieces for TTS, and audio sent in 20 ms frames
on a real-time schedule.

Pacing matters both ways: frames sent faster than real time pile up in the PBX's or browser's
buffer, so a barge-in could not stop what the caller hears; frames sent just in time stutter on
any scheduling delay. So frames go a few ahead of real time, and a piece that comes late from
TTS is a pause, never a burst.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from speech.call_types import Transport

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02
PLAYBACK_LEAD_FRAMES = 3  # frames sent ahead of real time, to absorb scheduling jitter

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def split_sentences(text: str, min_chars: int = 8) -> list[str]:
    """TTS pieces: sentences, a short one joined to the next (so the first can be played while
    the rest is synthesised, without choppy one-word pieces)."""
    pieces: list[str] = []
    for part in _SENTENCE_END.split(text):
        if not part.strip():
            continue
        if pieces and len(pieces[-1]) < min_chars:
            pieces[-1] += part
        else:
            pieces.append(part)
    if len(pieces) > 1 and len(pieces[-1]) < min_chars:
        last = pieces.pop()
        pieces[-1] += last
    return pieces or [text]


async def synthesize_pieces(
    synthesize: Callable[[str], Awaitable[bytes]],
    pieces: list[str],
    out: asyncio.Queue[bytes | None],
    call_id: str,
) -> None:
    """Audio of each piece into `out`, in order, then None; a TTS failure ends the prompt there
    (the caller hears what was ready)."""
    try:
        for piece in pieces:
            out.put_nowait(await synthesize(piece))
    except Exception:
        log.exception("call %s: TTS failed; the rest of the prompt is skipped", call_id)
    finally:
        out.put_nowait(None)


async def send_paced(transport: Transport, audio: asyncio.Queue[bytes | None]) -> None:
    """Send the pieces from `audio` (until None) in 20 ms frames on a real-time schedule, a few
    frames ahead; returns when the caller has heard the last frame. Transport errors (the caller
    is gone) propagate."""
    loop = asyncio.get_running_loop()
    size = transport.sample_rate // 50 * 2
    lead = PLAYBACK_LEAD_FRAMES * FRAME_SECONDS
    due = loop.time()  # when the caller hears the next frame
    while (pcm := await audio.get()) is not None:
        due = max(due, loop.time())  # a piece that came late is a pause, not a burst
        for offset in range(0, len(pcm), size):
            await transport.send_audio(pcm[offset : offset + size].ljust(size, b"\0"))
            due += FRAME_SECONDS
            delay = due - lead - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
    # The caller hears the last frames only once their time has passed.
    rest = due - loop.time()
    if rest > 0:
        await asyncio.sleep(rest)
