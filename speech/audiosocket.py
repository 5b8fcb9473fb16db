"""Asterisk AudioSocket: a TCP server that turns each connection into a call session.

Framing (Asterisk's res_audiosocket): 1-byte kind, 2-byte big-endian payload length, payload.
Asterisk sends 0x01 (the 16-byte call UUID) first, then 0x10 (slin16 8 kHz mono audio, 320
bytes per 20 ms), 0x03 (a DTMF digit as one ASCII byte), 0x00 (hang-up) and 0xff (error). We
send 0x10 audio and, to end the call's AudioSocket() step so the dialplan continues (transfer,
or ask the outcome), 0x00.

One connection is one call. A connection that breaks the framing (unknown kind, a payload too
long or of the wrong size, no UUID first) is closed with a log line; an abrupt disconnect is a
hang-up. When `max_calls` calls are up, a new one hears the busy prompt and is hung up
(outcome "refused"). Inbound audio waits in a bounded queue: a session that falls behind makes
its reader wait, and TCP pushes back on the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from speech.calls import CallCenter, LiveSession

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_ID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
SAMPLE_RATE = 8000
MAX_AUDIO_BYTES = 8000  # 0.5 s of 8 kHz audio in one frame is already far more than Asterisk sends
DTMF_KEYS = "0123456789*#ABCD"
FIRST_FRAME_SECONDS = 5.0


class ProtocolError(Exception):
    """The peer broke the AudioSocket framing; the message says how."""


def frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame; IncompleteReadError when the peer closes (cleanly between frames or not)."""
    header = await reader.readexactly(3)
    kind, length = header[0], int.from_bytes(header[1:3], "big")
    if kind == KIND_AUDIO and (length > MAX_AUDIO_BYTES or length % 2):
        raise ProtocolError(f"audio frame of {length} bytes")
    if kind == KIND_DTMF and length != 1:
        raise ProtocolError(f"DTMF frame of {length} bytes")
    if kind == KIND_ID and length != 16:
        raise ProtocolError(f"UUID frame of {length} bytes")
    if kind not in (KIND_HANGUP, KIND_ID, KIND_DTMF, KIND_AUDIO, KIND_ERROR):
        raise ProtocolError(f"unknown frame kind 0x{kind:02x}")
    payload = await reader.readexactly(length) if length else b""
    return kind, payload


class AudioSocketTransport:
    """A session's output to Asterisk: audio frames; events have no channel here."""

    sample_rate = SAMPLE_RATE

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.closed = False

    async def send_audio(self, pcm: bytes) -> None:
        await self._send(frame(KIND_AUDIO, pcm))

    async def send_event(self, event: dict[str, Any]) -> None:
        return None

    async def hang_up(self) -> None:
        """Ask Asterisk to end the AudioSocket() step (the dialplan then continues)."""
        await self._send(frame(KIND_HANGUP))

    async def _send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError):
            self.closed = True

    async def close(self) -> None:
        self.closed = True
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


class AudioSocketServer:
    def __init__(self, center: CallCenter, host: str, port: int) -> None:
        self.center = center
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        log.info(
            "AudioSocket listening on %s:%d (%d lines)", sock[0], sock[1], self.center.max_calls
        )

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def stop(self, grace: float = 0.0) -> None:
        """Stop listening; the calls still up are told and transferred (speech/calls.py) and
        have `grace` seconds to end that way; the rest are hung up. Each records its outcome."""
        if self._server is not None:
            self._server.close()
        self.center.shut_down()
        if self._connections and grace > 0:
            _, late = await asyncio.wait(set(self._connections), timeout=grace)
            if late:
                log.warning("%d calls still up after %.0f s; hanging up", len(late), grace)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            pass  # stop(): the call has been ended and recorded; asyncio need not log it
        finally:
            self._connections.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        transport = AudioSocketTransport(writer)
        try:
            kind, payload = await asyncio.wait_for(read_frame(reader), FIRST_FRAME_SECONDS)
            if kind != KIND_ID:
                raise ProtocolError(f"first frame is kind 0x{kind:02x}, not the call UUID")
        except (ProtocolError, asyncio.IncompleteReadError, TimeoutError, ConnectionError) as exc:
            log.warning("AudioSocket from %s: no call UUID (%s); closing", peer, _why(exc))
            await transport.close()
            return
        call_id = str(uuid.UUID(bytes=payload))
        try:
            session = await self.center.open(call_id, "audiosocket", transport)
            if session is None:
                await self.center.refuse(call_id, "audiosocket", transport)
                await transport.hang_up()
                return
            await self._converse(call_id, session, reader, transport)
        except Exception:
            log.exception("call %s: AudioSocket connection failed", call_id)
        finally:
            await transport.close()

    async def _converse(
        self,
        call_id: str,
        session: LiveSession,
        reader: asyncio.StreamReader,
        transport: AudioSocketTransport,
    ) -> None:
        runner = asyncio.create_task(self.center.run(session), name=f"call-{call_id}")
        feeder = asyncio.create_task(self._feed(call_id, session, reader))
        try:
            await asyncio.wait({runner, feeder}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # server stopping: the call ends as a hang-up
            session.hangup("server_stop")
            feeder.cancel()
            await asyncio.gather(runner, feeder, return_exceptions=True)
            raise
        if not runner.done():  # the caller's side ended first
            failed = feeder.exception()
            if failed is not None:
                log.error("call %s: reading the caller failed: %r", call_id, failed)
            session.hangup("disconnect" if failed else feeder.result())
            await asyncio.wait({runner})
        else:  # the session ended the call (transfer, goodbye): let the dialplan continue
            feeder.cancel()
            await transport.hang_up()
        await asyncio.gather(feeder, return_exceptions=True)
        runner.result()

    async def _feed(self, call_id: str, session: LiveSession, reader: asyncio.StreamReader) -> str:
        """Caller -> session until hang-up, disconnect or a malformed frame; returns which."""
        while True:
            try:
                kind, payload = await read_frame(reader)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    log.warning("call %s: connection dropped mid-frame", call_id)
                else:
                    log.info("call %s: connection closed without a hang-up frame", call_id)
                return "disconnect"
            except ProtocolError as exc:
                log.warning("call %s: malformed AudioSocket frame (%s); closing", call_id, exc)
                return "protocol_error"
            except (ConnectionError, OSError) as exc:
                log.info("call %s: connection lost (%s)", call_id, exc)
                return "disconnect"
            if kind == KIND_AUDIO:
                await session.audio(payload)
            elif kind == KIND_DTMF:
                key = chr(payload[0])
                if key not in DTMF_KEYS:
                    log.warning("call %s: malformed DTMF %r; closing", call_id, payload)
                    return "protocol_error"
                session.dtmf(key)
            elif kind == KIND_HANGUP:
                return "caller"
            elif kind == KIND_ERROR:
                log.warning("call %s: Asterisk reported an error (%s)", call_id, payload.hex())
                return "pbx_error"
            else:  # a second UUID
                log.warning("call %s: malformed AudioSocket frame (second UUID); closing", call_id)
                return "protocol_error"


def _why(exc: BaseException) -> str:
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed"
    if isinstance(exc, TimeoutError):
        return f"nothing within {FIRST_FRAME_SECONDS:.0f} s"
    return str(exc) or type(exc).__name__
