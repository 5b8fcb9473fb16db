"""The bot as a process: its data validates with Rasa itself, endpoints follow the settings."""

from pathlib import Path

import yaml

from hotline import bot
from hotline.settings import Settings


def test_rasa_data_validate_passes() -> None:
    result = bot.validate(Settings())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No story structure conflicts found" in output


def test_fingerprint_is_stable_and_names_the_model(tmp_path: Path) -> None:
    assert bot.fingerprint() == bot.fingerprint()
    path = bot.model_path(Settings(var_dir=tmp_path))
    assert path.name == f"bot-{bot.fingerprint()}.tar.gz"


def test_embedded_endpoints(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path, port=8100)
    cfg = yaml.safe_load(bot.render_endpoints(s).read_text())
    assert cfg["action_endpoint"]["url"] == "http://127.0.0.1:8100/webhook"
    assert cfg["tracker_store"] == {
        "type": "SQL",
        "dialect": "sqlite",
        "db": str(tmp_path / "rasa.db"),
    }
    assert cfg["lock_store"] == {"type": "in_memory"}


def test_scale_out_endpoints_use_postgres_and_redis(tmp_path: Path) -> None:
    s = Settings(
        var_dir=tmp_path,
        database_url="postgresql://hot:se%22cret@db.local:5433/hotline",
        redis_url="redis://cache.local:6380/2",
    )
    cfg = yaml.safe_load(bot.render_endpoints(s).read_text())
    assert cfg["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "db.local",
        "port": 5433,
        "db": "hotline",
        "username": "hot",
        "password": 'se"cret',
    }
    assert cfg["lock_store"] == {"type": "redis", "url": "cache.local", "port": 6380, "db": "2"}
