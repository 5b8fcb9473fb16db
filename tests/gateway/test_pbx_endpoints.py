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


def test_a_transferred_calls_outcome_carries_its_queue_summary(tmp_path: Path) -> None:
    """The call's handoff (queued by the actions with its summary) is readable by the PBX."""
    from handoffs import queue
    from handoffs.summary import build
    from speech.call_types import CallOutcome
    from speech.outcomes import record_outcome

    settings = Settings(var_dir=tmp_path, knowledge_preload=False, pbx_networks=["10.0.0.0/24"])
    with TestClient(create_app(settings), client=PBX) as client:
        call_id = str(uuid.uuid4())
        assert client.post(f"/api/v1/calls/{call_id}", json={}).status_code == 201
        summary = build(said=["路灯坏了", "转人工"], reason="asked", channel="voice",
                        wants="路灯坏了", phone="13912345678")  # fmt: skip
        item, _ = queue.enqueue(settings.database_url, f"voice:{call_id}", "voice", "asked",
                                summary.to_dict())  # fmt: skip
        record_outcome(settings.database_url, CallOutcome(call_id, "transfer", "asked",
                                                          "websocket", queue="12345"))  # fmt: skip
        body = client.get(f"/api/v1/calls/{call_id}/outcome").json()
        assert body["handoff"] == item.id
        assert body["summary"] == "电话 · 市民要求转人工 · 诉求：路灯坏了 · 电话139****5678"


def test_a_call_back_for_a_caller_past_capacity_is_an_order_the_pbx_can_read(
    tmp_path: Path,
) -> None:
    """Pressing 1 past capacity stores a 求助 order with the caller's number for the centre's
    operators (not sent to a department); a retry of the same call stores nothing new, and the
    PBX reads its number in the call's outcome."""
    import asyncio

    from gateway.calls_api import GatewayCallHooks
    from gateway.rasa_client import RasaClient
    from speech.call_types import CallOutcome
    from workorders import store

    settings = Settings(var_dir=tmp_path, knowledge_preload=False, pbx_networks=["10.0.0.0/24"])
    with TestClient(create_app(settings), client=PBX) as client:
        hooks = GatewayCallHooks(settings, lambda: RasaClient(settings.rasa_url, 1.0))
        call_id = str(uuid.uuid4())
        number = asyncio.run(hooks.request_callback(call_id, "13912345678"))
        assert asyncio.run(hooks.request_callback(call_id, "13912345678")) == number
        order = store.get(settings.database_url, number)
        assert (order.kind, order.channel, order.citizen_phone) == ("求助", "voice", "13912345678")
        assert order.status == "待派单"  # for the centre: nobody dispatched it
        outcome = CallOutcome(call_id, "refused", "callback", "audiosocket", "13912345678")
        asyncio.run(hooks.finished(outcome))
        body = client.get(f"/api/v1/calls/{call_id}/outcome").json()
        assert (body["outcome"], body["reason"], body["work_order"]) == (
            "refused",
            "callback",
            number,
        )


def test_a_call_passed_on_by_a_full_process_may_be_registered_for_the_next(tmp_path: Path) -> None:
    from speech.call_types import CallOutcome
    from speech.outcomes import passes_on, record_outcome

    settings = Settings(var_dir=tmp_path, knowledge_preload=False, pbx_networks=["10.0.0.0/24"])
    url = settings.database_url
    with TestClient(create_app(settings), client=PBX) as client:
        call_id = str(uuid.uuid4())
        first = client.post(f"/api/v1/calls/{call_id}", data={"caller_number": "13912345678",
                                                               "pass_on": "1"})  # fmt: skip
        assert first.status_code == 201 and first.json()["pass_on"] is True
        assert passes_on(url, call_id)
        record_outcome(url, CallOutcome(call_id, "refused", "full", "audiosocket"))
        last = client.post(f"/api/v1/calls/{call_id}", data={"caller_number": "13912345678"})
        assert last.status_code == 201 and not passes_on(url, call_id)  # the last process
        assert client.get(f"/api/v1/calls/{call_id}/outcome").json()["outcome"] is None
        record_outcome(url, CallOutcome(call_id, "hangup", "caller", "audiosocket"))
        assert client.post(f"/api/v1/calls/{call_id}", data={}).status_code == 409
        bad = client.post(f"/api/v1/calls/{uuid.uuid4()}", data={"pass_on": "maybe"})
        assert bad.status_code == 422 and "pass_on" in bad.text
