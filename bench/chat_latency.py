"""Per-turn latency through POST /api/v1/chat versus straight to Rasa's REST webhook.

Starts the real stack (`hotline serve`, embedded defaults, fresh state), then sends the same
turns both ways, interleaved so that both paths see the same machine load:
  app   POST {app}/api/v1/chat             (validation, relay, conversation log)
  rasa  POST {rasa}/webhooks/rest/webhook  (Rasa alone)
Also reported: the hotline connector alone (what the app calls inside Rasa) and each process's
resident memory. Run: `make bench` or `.venv/bin/python -m bench.chat_latency [--turns 200]`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from hotline.serve import start_isolated

# A conversation of ten turns touching every starter intent, the custom action and the fallback.
SCRIPT = [
    "喂 你好",
    "你们几点上班",
    "今天几号",
    "给我讲个笑话",
    "阿斯顿发个红烧肉",
    "好的",
    "不用了",
    "谢谢你",
    "在吗",
    "再见",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> dict[str, int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    named = {}
    for child in out.split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        named["rasa" if "rasa run" in cmdline else "app"] = int(child)
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns per path")
    args = parser.parse_args()

    stack = start_isolated(Path(tempfile.mkdtemp(prefix="hotline-bench-")))
    app = f"{stack.url}/api/v1/chat"
    rasa = f"{stack.rasa_url}/webhooks/rest/webhook"
    connector = f"{stack.rasa_url}/webhooks/hotline/webhook"
    timings: dict[str, list[float]] = {"app": [], "rasa": [], "connector": []}
    try:
        with httpx.Client(timeout=30) as http:

            def send(path: str, conv: int, text: str, measure: bool) -> None:
                sender = f"bench-{path}-{conv}"
                if path == "app":
                    url, body = app, {"sender": sender, "text": text, "channel": "api"}
                elif path == "rasa":
                    url, body = rasa, {"sender": sender, "message": text}
                else:
                    url, body = connector, {"sender": sender, "message": text, "channel": "api"}
                start = time.perf_counter()
                resp = http.post(url, json=body)
                elapsed = time.perf_counter() - start
                resp.raise_for_status()
                if measure:
                    timings[path].append(elapsed * 1000)

            for text in SCRIPT:  # warm-up: first turns load caches in Rasa and the app
                for path in timings:
                    send(path, -1, text, measure=False)
            turns = itertools.islice(itertools.cycle(enumerate(SCRIPT)), args.turns)
            for i, (_, text) in enumerate(turns):
                conv = i // len(SCRIPT)  # a fresh conversation every ten turns
                for path in timings:
                    send(path, conv, text, measure=True)
        memory = {name: rss_mb(pid) for name, pid in children(stack.proc.pid).items()}
    finally:
        stack.stop()

    p50 = {k: statistics.median(v) for k, v in timings.items()}
    p95 = {k: percentile(v, 0.95) for k, v in timings.items()}
    print(f"turns per path: {args.turns} (interleaved), conversations of {len(SCRIPT)} turns")
    print("| path | p50 ms | p95 ms |")
    print("| --- | ---: | ---: |")
    labels = {
        "rasa": "Rasa REST webhook alone",
        "connector": "Rasa hotline connector alone",
        "app": "app POST /api/v1/chat",
    }
    for key in ("rasa", "connector", "app"):
        print(f"| {labels[key]} | {p50[key]:.1f} | {p95[key]:.1f} |")
    print(
        f"app overhead vs Rasa REST: p50 {p50['app'] / p50['rasa'] - 1:+.1%}, "
        f"p95 {p95['app'] / p95['rasa'] - 1:+.1%}"
    )
    print("resident memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(memory.items())))


if __name__ == "__main__":
    main()
