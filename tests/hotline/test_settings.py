from pathlib import Path

import pytest

from hotline.settings import ModelPaths, Settings, get_settings, model_paths


def test_defaults_are_embedded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    s = Settings(var_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    assert s.model_dir == s.cache_dir / "bot-models"  # shared by clones: named by fingerprint
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


def test_one_embedding_model_and_cache_folder_for_every_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOTLINE_EMBEDDING_MODEL and HOTLINE_CACHE_DIR reach the knowledge service, the router,
    the table router's cache and the speech models alike (nothing is loaded here)."""
    from knowledge.service import KnowledgeService, get_service
    from speech.models import default_models_dir
    from workorders.routing import Embedder

    monkeypatch.setenv("HOTLINE_EMBEDDING_MODEL", str(tmp_path / "my-model"))
    monkeypatch.setenv("HOTLINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    get_settings.cache_clear()
    try:
        paths = model_paths()
        assert paths == ModelPaths(str(tmp_path / "my-model"), tmp_path / "cache")
        service = get_service(get_settings())
        assert isinstance(service, KnowledgeService) and service.paths == paths
        assert Embedder().paths == paths
        assert default_models_dir() == tmp_path / "cache" / "models"
    finally:
        get_settings.cache_clear()


def test_the_cache_folder_defaults_to_the_users_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CACHE_DIR", raising=False)
    monkeypatch.delenv("HOTLINE_EMBEDDING_MODEL", raising=False)
    paths = model_paths(Settings(_env_file=None))  # type: ignore[call-arg]
    assert paths.cache_dir == (Path.home() / ".cache" / "hotline").resolve()
    assert paths.embedding_model is None  # the offline multilingual-e5-small
    assert paths.models_dir == paths.cache_dir / "models"
