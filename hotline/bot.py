"""The Rasa bot as a process: fingerprint, training (cached), data validation and run command.

Rasa lives in its own Python 3.10 environment (settings.rasa_env); everything here drives its
`rasa` executable, so the app's environment never imports Rasa.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from pathlib import Path
from string import Template

from sqlalchemy.engine import make_url

from hotline.settings import PROJECT_ROOT, Settings

BOT_DIR = PROJECT_ROOT / "bot"
CONFIG = PROJECT_ROOT / "config.yml"
RASA_LOCK = PROJECT_ROOT / "requirements" / "rasa.lock"


class BotError(Exception):
    """Training or validation failed, or Rasa's environment is missing."""


# Files under bot/ that the running server reads and training does not: changing them must not
# cost a retrain (about 8 minutes on two cores).
_SERVE_ONLY = {"hotline_connector.py", "credentials.yml", "endpoints.yml"}


def fingerprint() -> str:
    """Hash of everything training depends on: bot/ (but the serve-only files), config.yml and
    Rasa's pinned versions."""
    digest = hashlib.sha256()
    files = [CONFIG, RASA_LOCK, *sorted(p for p in BOT_DIR.rglob("*") if p.is_file())]
    for path in files:
        if "__pycache__" in path.parts or path.name in _SERVE_ONLY:
            continue
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(settings: Settings) -> Path:
    return settings.model_dir / f"bot-{fingerprint()}.tar.gz"


def rasa_executable(settings: Settings) -> Path:
    exe = settings.rasa_env / "bin" / "rasa"
    if not exe.exists():
        raise BotError(f"Rasa is not installed at {exe}; run `make setup` (tools/bootstrap.py)")
    return exe


def rasa_environ() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(BOT_DIR),  # the hotline connector (bot/hotline_connector.py)
        RASA_TELEMETRY_ENABLED="false",  # no internet here, and no tracking of citizens
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def train(settings: Settings, force: bool = False) -> Path:
    """Train unless a model for the current fingerprint exists; returns the model path.

    A file lock keeps two processes (say, two test workers) from training at once.
    """
    target = model_path(settings)
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.model_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and not force:
            return target
        print(f"training the Rasa bot -> {target} (only when bot/ or config.yml changed)")
        cmd = [
            str(rasa_executable(settings)), "train",
            "--config", str(CONFIG),
            "--domain", str(BOT_DIR / "domain.yml"),
            "--data", str(BOT_DIR / "data"),
            "--out", str(settings.model_dir),
            "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        ]  # fmt: skip
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, env=rasa_environ())
        if result.returncode != 0 or not target.exists():
            raise BotError(f"rasa train failed (exit {result.returncode})")
    return target


def validate(settings: Settings) -> subprocess.CompletedProcess[str]:
    """`rasa data validate` over bot/ and config.yml; output returned for the caller to show."""
    cmd = [
        str(rasa_executable(settings)), "data", "validate",
        "--config", str(CONFIG),
        "--domain", str(BOT_DIR / "domain.yml"),
        "--data", str(BOT_DIR / "data"),
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=PROJECT_ROOT, env=rasa_environ(), capture_output=True, text=True)


def render_endpoints(settings: Settings) -> Path:
    """Fill bot/endpoints.yml from settings: action webhook, tracker store, lock store."""
    template = Template((BOT_DIR / "endpoints.yml").read_text())
    text = template.substitute(
        action_url=settings.action_webhook_url,
        action_headers=_action_headers(settings),
        tracker_store=_indent(_tracker_store(settings)),
        lock_store=_indent(_lock_store(settings)),
    )
    out = settings.var_dir / "run" / "endpoints.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def _action_headers(settings: Settings) -> str:
    """The shared secret the app's action webhook asks of non-loopback callers (may be empty)."""
    if not settings.action_secret:
        return ""
    secret = json.dumps(settings.action_secret.get_secret_value())  # a JSON string is YAML
    return f"  headers:\n    X-Hotline-Action-Secret: {secret}\n"


def _tracker_store(settings: Settings) -> dict[str, object]:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        # Rasa keeps its own tracker file beside ours: its schema is Rasa's business.
        return {"type": "SQL", "dialect": "sqlite", "db": str(settings.var_dir / "rasa.db")}
    return {
        "type": "SQL",
        "dialect": "postgresql",
        "url": url.host or "localhost",
        "port": url.port or 5432,
        "db": url.database,
        "username": url.username or "",
        "password": url.password or "",
    }


def _lock_store(settings: Settings) -> dict[str, object]:
    if not settings.redis_url:
        return {"type": "in_memory"}
    url = make_url(settings.redis_url)
    db = (url.database or "0").lstrip("/") or "0"
    return {"type": "redis", "url": url.host or "localhost", "port": url.port or 6379, "db": db}


def _indent(values: dict[str, object]) -> str:
    return "\n".join(f"  {key}: {_yaml_scalar(value)}" for key, value in values.items())


def _yaml_scalar(value: object) -> str:
    return str(value) if isinstance(value, int) else '"' + str(value).replace('"', '\\"') + '"'


def run_command(settings: Settings, model: Path, endpoints: Path) -> list[str]:
    return [
        str(rasa_executable(settings)), "run",
        "--enable-api",
        "--interface", settings.rasa_host,
        "--port", str(settings.rasa_port),
        "--model", str(model),
        "--endpoints", str(endpoints),
        "--credentials", str(BOT_DIR / "credentials.yml"),
    ]  # fmt: skip
