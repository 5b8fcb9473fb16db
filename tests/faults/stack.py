"""Real processes for the fault tests: an app replica (uvicorn, as `hotline serve --only app`
runs it); the Rasa stand-in is tests/standin_rasa.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from hotline.settings import PROJECT_ROOT


class App:
    """One app process on `port`; `stop` signals it, `kill` is kill -9."""

    def __init__(self, port: int, var: Path, **settings: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = var / f"app-{port}.log"
        var.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOTLINE_VAR_DIR": str(var),
               "HOTLINE_SLA_SCAN_SECONDS": "0", "HOTLINE_DATABASE_URL": "",
               **{f"HOTLINE_{k.upper()}": v for k, v in settings.items()}}  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "gateway.app:main_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, self.text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"the app did not start:\n{self.text()[-3000:]}"
            time.sleep(0.2)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextmanager
def app(port: int, var: Path, **settings: str) -> Iterator[App]:
    started = App(port, var, **settings)
    try:
        yield started
    finally:
        started.stop()
