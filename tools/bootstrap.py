#!/usr/bin/env python3
"""Set up everything the project needs; fast and silent when nothing changed.

Standard library only: it runs before any virtual environment exists.

Two environments are built, each keyed by a hash of its lock file and interpreter, in a shared
cache (``$HOTLINE_ENV_CACHE``, default ``~/.cache/hotline/envs``) so that a fresh clone on the
same machine (CI) reuses them; ``.venv`` and ``.venv-rasa`` in the project are symlinks to them.

- app (Python 3.11): torch==2.13.0 first (any other torch spec pulls a CUDA build), then the
  pinned lock, then this project in editable mode (re-pointed when the clone moves).
- rasa (Python 3.10): rasa==3.6.21 and jieba, pinned by requirements/rasa.lock.

Debian packages the project needs are installed when missing and we are root; otherwise the
exact apt command is printed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APT_PACKAGES = {  # package -> a file that proves it is installed
    "espeak-ng": "/usr/bin/espeak-ng",
    "sox": "/usr/bin/sox",
    "chromium": "/usr/bin/chromium",
    "chromium-driver": "/usr/bin/chromedriver",
    # `make cluster` runs it in front of the replicas with its own config and no root; Debian's
    # nginx service (port 80) is not used.
    "nginx": "/usr/sbin/nginx",
    # A CJK font: without one Chromium draws the Chinese pages as empty boxes. WenQuanYi Micro
    # Hei (GBK coverage, 1.6 MB) rather than fonts-noto-cjk (56 MB download, 91 MB installed).
    "fonts-wqy-microhei": "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
}
TORCH = "torch==2.13.0"


class SetupError(Exception):
    """A problem the user must fix; the message says exactly what to do."""


def log(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def works(python: str) -> bool:
    """True if `python` really runs (pyenv shims exist on PATH but may refuse)."""
    try:
        subprocess.run([python, "-c", "import sys"], check=True, capture_output=True, timeout=30)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def find_python(version: str) -> str:
    """Find a working interpreter for `version` (e.g. "3.10"): PATH first, then pyenv."""
    if sys.version_info[:2] == tuple(int(p) for p in version.split(".")):
        return sys.executable
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        (str(p) for p in (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}")),
        reverse=True,
    )
    for python in candidates:
        if works(python):
            return python
    raise SetupError(
        f"Python {version} is required but was not found (looked on PATH for python{version} and "
        f"under {pyenv_root}/versions/{version}.*). Install it, e.g. `pyenv install {version}` "
        f"or `apt-get install python{version} python{version}-venv`."
    )


def ensure_apt_packages() -> None:
    missing = [pkg for pkg, probe in APT_PACKAGES.items() if not Path(probe).exists()]
    if not missing:
        return
    cmd = "apt-get update && apt-get install -y " + " ".join(missing)
    if os.geteuid() != 0:
        log(f"missing Debian packages {missing}; as root run:\n    {cmd}")
        return
    log(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env)


def env_cache() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hotline" / "envs"
    return Path(os.environ.get("HOTLINE_ENV_CACHE", default))


def env_key(name: str, python: str, lock: Path) -> str:
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], check=True, capture_output=True, text=True
    ).stdout
    digest = hashlib.sha256(version.encode() + lock.read_bytes()).hexdigest()[:12]
    return f"{name}-{digest}"


def build_env(name: str, python: str, lock: Path, first: list[str]) -> Path:
    """Create (or reuse) the cached venv for `lock`; returns its path."""
    target = env_cache() / env_key(name, python, lock)
    done = target / ".hotline-complete"
    if done.exists():
        return target
    log(f"building the {name} environment in {target} (first run only; a few minutes)")
    # Build under the final name (a venv's paths are absolute); the marker is written last,
    # so an interrupted build is simply redone.
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    run([python, "-m", "venv", str(target)])
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    if first:
        run([*pip, *first])
    run([*pip, "-r", str(lock)])
    done.write_text(str(lock) + "\n")
    return target


def link(name: str, target: Path) -> None:
    path = ROOT / name
    if path.is_symlink() and Path(os.readlink(path)) == target:
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        raise SetupError(f"{path} is a real directory; remove it so setup can link {target}")
    path.symlink_to(target)


def ensure_editable(app_env: Path) -> None:
    """Install this clone into the app env (editable) unless it already points here."""
    stamp = app_env / ".hotline-project"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    want = f"{ROOT} {digest} compat\n"
    if stamp.exists() and stamp.read_text() == want:
        return
    run(
        [
            str(app_env / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(ROOT),
            # compat mode puts the project root on sys.path (a .pth file), so a top-level
            # package added later is importable without reinstalling
            "--config-settings",
            "editable_mode=compat",
        ]
    )
    stamp.write_text(want)


def main() -> int:
    try:
        ensure_apt_packages()
        app_env = build_env("app", find_python("3.11"), ROOT / "requirements/app.lock", [TORCH])
        rasa_env = build_env("rasa", find_python("3.10"), ROOT / "requirements/rasa.lock", [])
        link(".venv", app_env)
        link(".venv-rasa", rasa_env)
        ensure_editable(app_env)
    except SetupError as exc:
        print(f"[setup] ERROR: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"[setup] ERROR: command failed ({exc.returncode}): {exc.cmd}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
