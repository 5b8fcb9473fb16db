"""Schemathesis over the OpenAPI of the real app served by uvicorn (SQLite, the real knowledge
index, a stand-in Rasa), signed in as an admin and not: no request may end in a server error.

The suite sends about 200 cases; `make fuzz` sends HOTLINE_FUZZ_CASES (10,000) the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from gateway.app import create_app
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving
from tests.hostile.fuzz import fake_rasa, fuzz

PORT = 18401


def test_no_generated_request_is_a_server_error(tmp_path: Path) -> None:
    cases = int(os.environ.get("HOTLINE_FUZZ_CASES", "200"))
    with fake_rasa() as rasa:
        settings = Settings(var_dir=tmp_path, rasa_url=rasa.url, knowledge_preload=False,
                            cache_dir=Settings().cache_dir, sla_scan_seconds=0,
                            signin_failure_delay=0)  # fmt: skip
        app = create_app(settings)
        with serving(app, PORT) as url:
            admin = signin.bearer(settings.database_url, "admin")
            result = fuzz(url, {"anonymous": {}, "admin": admin}, cases)
            alive = httpx.get(f"{url}/health", timeout=30)
    print(f"\n{result.cases} cases, {result.slow} retried after 30 s, "
          f"statuses {sorted(result.statuses.items())}")  # fmt: skip
    assert result.cases >= cases
    assert result.server_errors == [], "\n".join(result.server_errors[:20])
    assert alive.status_code in (200, 503)  # the process still answers (503: a part degraded)
