"""`hotline serve`: start Rasa and the app, wait until both answer, stop both cleanly.

Each child runs in its own process group with its output in var/log/<name>.log. Ctrl-C or
SIGTERM stops both (SIGTERM, then SIGKILL after a grace period); if one child dies, the other is
stopped too and serve exits non-zero, so no orphan is ever left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeGuard, get_args

import httpx

from hotline import bot, db
from hotline.settings import PROJECT_ROOT, Settings

Part = Literal["all", "app", "rasa"]
PARTS: tuple[Part, ...] = get_args(Part)


def is_part(value: str) -> TypeGuard[Part]:
    """Whether a command-line value names a part `serve` can start."""
    return value in PARTS


@dataclass
class Child:
    name: str
    cmd: list[str]
    log_path: Path
    ready_url: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own group: we decide when it stops
            )
        return self.proc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_together(children: list[Child], grace: float) -> None:
    """SIGTERM to every child at once; SIGKILL to any still running `grace` seconds later."""
    running = [c for c in children if c.proc is not None and c.proc.poll() is None]
    for child in running:
        assert child.proc is not None
        _signal_group(child.proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in running:
        assert child.proc is not None
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child.proc, signal.SIGKILL)
            child.proc.wait()


def one_by_one(children: list[Child]) -> list[list[Child]]:
    """The default stop order: the last started first, one at a time."""
    return [[child] for child in reversed(children)]


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)


def plan(settings: Settings, part: Part) -> list[Child]:
    """The children to start for `part`, preparing what each needs (model, schema)."""
    children = []
    if part in ("all", "rasa"):
        model = bot.train(settings)
        endpoints = bot.render_endpoints(settings)
        children.append(
            Child(
                "rasa",
                bot.run_command(settings, model, endpoints),
                settings.log_dir / "rasa.log",
                f"{settings.rasa_url}/status",
                env=bot.rasa_environ(),
            )
        )
    if part in ("all", "app"):
        db.upgrade(settings.database_url)
        cmd = [
            # uvicorn, with live WS calls handed over before it closes them (the module says why)
            sys.executable, "-m", "gateway.app_server",
            "--host", settings.host, "--port", str(settings.port),
            "--forwarded-allow-ips", settings.forwarded_allow_ips,
            # in-flight requests and calls get this long after SIGTERM (docs/operations.md)
            "--timeout-graceful-shutdown", str(max(1, round(settings.shutdown_seconds))),
        ]  # fmt: skip
        local = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        children.append(
            Child("app", cmd, settings.log_dir / "app.log", f"http://{local}:{settings.port}/docs")
        )
    return children


def serve(settings: Settings, part: Part = "all", echo: Callable[[str], None] = print) -> int:
    return supervise(
        lambda: plan(settings, part),
        settings.rasa_start_timeout,
        lambda: banner(settings, part),
        grace=settings.shutdown_seconds + 5,  # each child's own deadline, then a margin
        echo=echo,
    )


def supervise(
    make_children: Callable[[], list[Child]],
    start_timeout: float,
    ready_banner: Callable[[], str],
    grace: float,
    echo: Callable[[str], None] = print,
    stop_order: Callable[[list[Child]], list[list[Child]]] = one_by_one,
) -> int:
    """Start the children, wait until all answer, show the banner, then run until Ctrl-C or
    SIGTERM (exit 0) or until one child dies (exit 1); every child is stopped on the way out,
    in the groups of `stop_order` (a group's children at once, each group after the one before).
    `hotline serve` and `hotline cluster` (hotline/cluster.py) both run this."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        children = make_children()
        for child in children:
            proc = child.start()
            echo(f"started {child.name} (pid {proc.pid}), log: {child.log_path}")
        deadline = time.monotonic() + start_timeout
        waiting = list(children)
        while waiting and not stopping:
            for child in list(waiting):
                if not child.alive():
                    echo(f"{child.name} exited while starting; last lines of its log:")
                    echo(child.log_tail())
                    return 1
                if child.ready():
                    waiting.remove(child)
                    echo(f"{child.name} is ready")
            if time.monotonic() > deadline:
                echo(f"timed out waiting for {[c.name for c in waiting]}")
                return 1
            time.sleep(0.5)
        if stopping:
            return 0
        echo(ready_banner())
        while not stopping:
            for child in children:
                if not child.alive():
                    echo(f"{child.name} stopped unexpectedly; last lines of its log:")
                    echo(child.log_tail())
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for group in stop_order(children):
            stop_together(group, grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if children:
            echo("stopped")


def banner(settings: Settings, part: Part) -> str:
    lines = ["", READY_LINE + ":"]
    if part in ("all", "app"):
        lines += [
            f"  chat page   {settings.public_url}/chat",
            f"  API docs    {settings.public_url}/docs",
            f"  health      {settings.public_url}/health",
        ]
    if part in ("all", "rasa"):
        lines.append(f"  Rasa        {settings.rasa_url}")
    lines += [f"logs in {settings.log_dir}; press Ctrl-C to stop", ""]
    return "\n".join(lines)


READY_LINE = "12345 front door is running"


def spawn(
    env_overrides: dict[str, str], log_path: Path, part: Part = "all", timeout: float = 600
) -> subprocess.Popen[bytes]:
    """Run `hotline serve` as a child (tests, benchmarks) and return once it is ready."""
    env = {**os.environ, **env_overrides}
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve", "--only", part],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if proc.poll() is not None:
            raise RuntimeError(f"hotline serve exited {proc.returncode}:\n{text[-4000:]}")
        if READY_LINE in text:
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"hotline serve not ready in {timeout}s:\n{text[-4000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Isolated:
    """A whole stack on free ports with fresh state (tests, benchmarks)."""

    url: str
    rasa_url: str
    var_dir: Path
    proc: subprocess.Popen[bytes]
    database_url: str = ""  # the app's database (accounts for tests and benchmarks)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_isolated(var_dir: Path, **settings: str) -> Isolated:
    """`hotline serve` with its own var dir and ports and the embedded SQLite (unless `settings`
    say otherwise, e.g. database_url=..., redis_url=...); the trained bot is the shared one
    (Settings.model_dir), so training happens once."""
    app_port, rasa_port = free_port(), free_port()
    env = {
        "HOTLINE_VAR_DIR": str(var_dir),
        "HOTLINE_MODEL_DIR": str(Settings().model_dir),
        "HOTLINE_PORT": str(app_port),
        "HOTLINE_RASA_PORT": str(rasa_port),
        "HOTLINE_DATABASE_URL": "",
        **{f"HOTLINE_{name.upper()}": value for name, value in settings.items()},
    }
    proc = spawn(env, var_dir / "serve.log")
    database_url = settings.get("database_url") or f"sqlite:///{var_dir / 'hotline.db'}"
    app, rasa = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{rasa_port}"
    return Isolated(app, rasa, var_dir, proc, database_url)
