"""The PBX's endpoints (/api/v1/calls) answer the PBX only: a caller number registered there
names the citizen on the phone (their orders are looked up by it), so nobody else may set one."""

import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline.settings import Settings

PBX = ("10.0.0.9", 5060)
OUTSIDE = ("203.0.113.7", 5555)


def register(client: TestClient, **headers: str) -> int:
    url = f"/api/v1/calls/{uuid.uuid4()}"
    return client.post(url, json={"caller_number": "13912345678"}, headers=headers).status_code


def test_only_the_pbx_may_register_a_caller_or_read_an_outcome(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, pbx_secret="pbx-s3cret",
                        pbx_networks=["10.0.0.0/24"])  # fmt: skip
    app = create_app(settings)
    with TestClient(app, client=OUTSIDE) as client:
        assert register(client) == 403
        assert register(client, **{"X-Hotline-PBX-Secret": "guess"}) == 403
        assert client.get(f"/api/v1/calls/{uuid.uuid4()}/outcome").status_code == 403
        assert register(client, **{"X-Hotline-PBX-Secret": "pbx-s3cret"}) == 201
    with TestClient(app, client=PBX) as client:  # from the PBX's network, no secret needed
        assert register(client) == 201
        assert client.get(f"/api/v1/calls/{uuid.uuid4()}/outcome").status_code == 404
    with TestClient(app, client=("127.0.0.1", 40000)) as client:  # the same host
        assert register(client) == 201


def test_loopback_can_be_refused_behind_a_local_proxy(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, pbx_loopback=False)
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as client:
        assert register(client) == 403
