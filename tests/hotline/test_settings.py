from pathlib import Path

from hotline.settings import Settings


def test_defaults_are_embedded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    s = Settings(var_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    assert s.model_dir == tmp_path / "models"
    assert s.log_dir == tmp_path / "log"
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.action_webhook_url == "http://127.0.0.1:8000/webhook"


def test_environment_variables_use_the_hotline_prefix(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql://u@db:5432/h")
    monkeypatch.setenv("HOTLINE_PORT", "9000")
    monkeypatch.setenv("HOTLINE_HOST", "0.0.0.0")
    s = Settings(var_dir=tmp_path)
    assert s.database_url == "postgresql://u@db:5432/h"
    assert s.public_url == "http://localhost:9000"
    # Rasa must call back on an address that is reachable, not the wildcard.
    assert s.action_webhook_url == "http://127.0.0.1:9000/webhook"


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HOTLINE_MAX_TEXT_CHARS=42\n")
    assert Settings(var_dir=tmp_path).max_text_chars == 42
