"""Rasa's own end-to-end test stories (tests/rasa/test_stories.yml): NLU and dialogue policies
predict every step of every flow and repair, or the test fails (--fail-on-prediction-errors)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hotline import bot
from hotline.settings import PROJECT_ROOT, Settings

STORIES = Path(__file__).resolve().parents[1] / "rasa" / "test_stories.yml"


def test_every_flow_and_repair_is_predicted_step_by_step(tmp_path: Path) -> None:
    settings = Settings()
    model = bot.train(settings)
    rasa = settings.rasa_env / "bin" / "rasa"
    result = subprocess.run(
        [str(rasa), "test", "core", "--model", str(model), "--stories", str(STORIES),
         "--fail-on-prediction-errors", "--out", str(tmp_path), "--no-plot"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=bot.rasa_environ(), timeout=900,
    )  # fmt: skip
    report = tmp_path / "failed_test_stories.yml"
    failed = report.read_text(encoding="utf-8") if report.exists() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + failed
