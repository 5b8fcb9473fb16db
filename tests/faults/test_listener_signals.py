"""`hotline voice audiosocket` as a real process, signalled in each phase of its life.

The listener once outlived SIGINT by more than 30 s (tests/speech/test_audiosocket_process.py
failed 1 in 1,039 on a fresh clone): the prompt warm-up rendered every prompt in one thread-pool
job, and the interpreter joins pool threads on exit. Here the signal lands, on purpose, while the
engines load, while prompts render on an empty TTS cache, and during a live call; each time the
process must leave with status 0 well inside HOTLINE_SHUTDOWN_SECONDS, and a live call must
hear why and be transferred.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hotline.serve import free_port
from hotline.settings import PROJECT_ROOT, Settings
from speech.outcomes import get_call
from speech.prompts import SHUTDOWN
from tests.conftest import unavailable
from tests.gateway.test_voice_ws import FakeRasa
from tests.speech.test_audiosocket import Asterisk

SHUTDOWN_SECONDS = 15
LISTENING = "AudioSocket listening"
ENGINES_READY = "speech engines ready"


class Listener:
    def __init__(self, tmp: Path, rasa_port: int, fresh_tts_cache: bool = True) -> None:
        # An empty TTS cache (prompts must be rendered) beside the project's model cache.
        cache = Settings().cache_dir
        if fresh_tts_cache:
            cache = tmp / "cache"
            cache.mkdir()
            (cache / "models").symlink_to(Settings().cache_dir / "models")
        self.port = free_port()
        self.log = tmp / "audiosocket.log"
        self.db = f"sqlite:///{tmp / 'hotline.db'}"
        env = {
            **os.environ,
            "HOTLINE_VAR_DIR": str(tmp),
            "HOTLINE_DATABASE_URL": "",
            "HOTLINE_CACHE_DIR": str(cache),
            "HOTLINE_RASA_URL": f"http://127.0.0.1:{rasa_port}",
            "HOTLINE_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
        }
        cmd = [sys.executable, "-m", "hotline.cli", "voice", "audiosocket", "--port",
               str(self.port)]  # fmt: skip
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, line: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, f"no {line!r} in the log:\n{self.text()}"
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal it; the exit status, once it has left (killed after a hang: a failure)."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(SHUTDOWN_SECONDS + 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"still running {SHUTDOWN_SECONDS + 20} s after the signal:\n{self.text()}")


@pytest.fixture
def rasa() -> FakeRasa:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        unavailable("espeak-ng and sox (apt-get install espeak-ng sox)")
    server = FakeRasa()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server  # type: ignore[misc]
    server.shutdown()


def test_a_signal_while_the_engines_load_stops_the_listener(tmp_path: Path, rasa: FakeRasa) -> None:
    listener = Listener(tmp_path, rasa.server_port)
    listener.wait_for(LISTENING)
    assert ENGINES_READY not in listener.text()  # the warm-up has only just begun
    assert listener.stop(signal.SIGINT) == 0, listener.text()
    assert "AudioSocket listener stopped" in listener.text()


def test_a_signal_while_prompts_render_stops_the_warm_up(tmp_path: Path, rasa: FakeRasa) -> None:
    listener = Listener(tmp_path, rasa.server_port)
    listener.wait_for(ENGINES_READY)
    assert listener.stop() == 0, listener.text()
    log = listener.text()
    assert "prompt warm-up stopped" in log, log  # it was rendering: it stopped between prompts
    assert "speech prompts ready" not in log
    assert "threads still busy" not in log  # one prompt at most was left to finish


def test_a_live_call_is_told_and_transferred_when_the_listener_stops(
    tmp_path: Path, rasa: FakeRasa
) -> None:
    listener = Listener(tmp_path, rasa.server_port, fresh_tts_cache=False)
    listener.wait_for(LISTENING)

    async def call() -> tuple[str, float, float]:
        async with asyncio.timeout(120):  # the call waits for the engines to load
            pbx = await Asterisk(listener.port).connect()
            await pbx.heard(1.0)  # the greeting has begun
            before = len(pbx.audio) / 16000
            listener.proc.send_signal(signal.SIGTERM)
            await pbx.hung_up.wait()  # AudioSocket() ends: the dialplan transfers the call
            await pbx.closed.wait()
            return pbx.call_id, before, len(pbx.audio) / 16000

    call_id, before, after = asyncio.run(call())
    assert listener.stop() == 0, listener.text()  # already leaving; a second signal is harmless
    row = get_call(listener.db, call_id)
    assert row is not None
    assert (row.outcome, row.reason, row.queue) == ("transfer", "server_stop", "12345")
    assert row.transcript[-1]["text"] == SHUTDOWN
    assert after - before > 2.0  # the caller heard the announcement, not just a cut line
