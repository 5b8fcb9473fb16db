"""`hotline voice audiosocket`: the listener as its own process, with the real engines, a local
fake Rasa and its own SQLite database — what Asterisk talks to when the app runs elsewhere."""

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

from hotline.serve import free_port
from hotline.settings import PROJECT_ROOT
from speech.outcomes import get_call
from tests.conftest import unavailable
from tests.gateway.test_voice_ws import FakeRasa
from tests.speech.test_audiosocket import Asterisk


def test_the_standalone_listener_answers_and_records_calls(tmp_path: Path) -> None:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        unavailable("espeak-ng and sox (apt-get install espeak-ng sox)")
    rasa = FakeRasa()
    threading.Thread(target=rasa.serve_forever, daemon=True).start()
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_VAR_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": "",
        "HOTLINE_RASA_URL": f"http://127.0.0.1:{rasa.server_port}",
    }
    log_path = tmp_path / "audiosocket.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "voice", "audiosocket", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "AudioSocket listening" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.2)

        async def call() -> str:
            async with asyncio.timeout(120):  # the first call waits for the engines to load
                pbx = await Asterisk(port).connect()
                await pbx.heard(1.0)  # the greeting, synthesised by espeak-ng
                await pbx.dtmf("0")
                await pbx.hung_up.wait()
                await pbx.closed.wait()
                return pbx.call_id

        call_id = asyncio.run(call())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        rasa.shutdown()
    assert proc.returncode == 0, log_path.read_text(errors="replace")
    row = get_call(f"sqlite:///{tmp_path / 'hotline.db'}", call_id)
    assert row is not None
    assert (row.outcome, row.reason, row.queue, row.channel) == (
        "transfer",
        "dtmf_0",
        "12345",
        "audiosocket",
    )
    sent = [r for r in rasa.requests if r["sender"] == f"voice:{call_id}"]
    assert [(r["message"], r["metadata"]["dtmf"]) for r in sent] == [("0", "0")]
