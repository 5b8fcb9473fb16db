"""Run a script inside Rasa's environment, as the Rasa server loads the connector."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from hotline import bot
from hotline.settings import Settings


def run_in_rasa(script: str, stdin: Any) -> Any:
    """`script` run by Rasa's Python with `stdin` as JSON; its last output line, parsed."""
    python = Settings().rasa_env / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", script], input=json.dumps(stdin), capture_output=True, text=True,
        env=bot.rasa_environ(), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
