"""Schemathesis over the app's OpenAPI: cases spread over every operation, signed in and not,
valid and invalid by the schema; every response that is a server error (5xx) is collected.

Used by the short run in the suite (tests/hostile/test_fuzz_openapi.py) and by `make fuzz`.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

# Streams (server-sent events) never end: a fuzzed request would hang, so they are left out
# (their access rules are in the access-matrix test).
EXCLUDED_PATHS = r".*/events$"
MAX_ROUNDS = 20


@dataclass
class FuzzResult:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # "who status" → responses
    slow: int = 0  # requests that took over 30 s and were answered on a second try


def fuzz(
    base_url: str,
    identities: Mapping[str, Mapping[str, str]],
    total_cases: int,
    modes: Sequence[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
) -> FuzzResult:
    """Send about `total_cases` generated requests to the app at `base_url`, split evenly over
    the operations, the `identities` (name → extra headers) and the generation `modes`."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(
        path_regex=EXCLUDED_PATHS
    )
    # Revoking ends the signed-in identity's token: that operation goes last.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: op.path == "/api/v1/auth/revoke")  # fmt: skip
    per_run = max(1, math.ceil(total_cases / (len(operations) * len(identities) * len(modes))))
    result = FuzzResult()
    session = requests.Session()
    # Hypothesis stops early where it has seen every distinct input of a small operation: new
    # rounds (new random seeds) go on until the total is sent.
    for _ in range(MAX_ROUNDS):
        for operation in operations:
            for who, headers in identities.items():
                for mode in modes:
                    _fuzz_one(operation, mode, who, dict(headers), per_run, base_url, session,
                              result)  # fmt: skip
        if result.cases >= total_cases:
            break
    return result


def _fuzz_one(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    who: str,
    headers: dict[str, str],
    examples: int,
    base_url: str,
    session: requests.Session,
    result: FuzzResult,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],  # every case is sent once; failures are collected, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except requests.Timeout:  # the 2 CPUs are shared: slow is not broken, hanging is
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=300)
            result.slow += 1
        result.cases += 1
        seen = f"{who} {response.status_code}"
        result.statuses[seen] = result.statuses.get(seen, 0) + 1
        if response.status_code >= 500:
            result.server_errors.append(
                f"{who} {mode.value}: {response.status_code} {case.as_curl_command()}\n"
                f"  → {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:  # nothing invalid can be made for an operation without parameters
        pass
    except Exception as exc:  # a case that cannot even be built or sent is a finding too
        result.server_errors.append(f"{who} {mode.value} {operation.label}: {exc!r}"[:500])


class FakeRasa(ThreadingHTTPServer):
    """Rasa's hotline channel answering every turn with a greeting: the fuzz is about the app,
    and a real bot would only slow it down (tests/integration runs the real one)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RasaHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _RasaHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # /status, asked by /health
        self._send({"model_file": "fuzz.tar.gz"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send({
            "messages": [{"recipient_id": body["sender"], "text": "您好"}],
            "intent": {"name": "greet", "confidence": 0.9},
            "paused": False,
        })  # fmt: skip

    def _send(self, reply: dict[str, object]) -> None:
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasa()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
