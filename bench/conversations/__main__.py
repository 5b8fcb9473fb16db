"""The command line: `python -m bench.conversations [--url URL] [--json] [--verbose] ...`."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import bench.conversations
from bench.conversations.driver import Stack, run_all
from bench.conversations.replies import Answers
from bench.conversations.report import as_json, print_report, summarise
from bench.conversations.schema import CONVERSATIONS_DIR, load_conversations, load_entries
from bench.conversations.scoring import diagnose, score, search_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.conversations",
        description=(bench.conversations.__doc__ or "").splitlines()[0],
    )
    parser.add_argument("--url", help="a running app (default: start an isolated stack)")
    parser.add_argument(
        "--token",
        default=os.environ.get("HOTLINE_TOKEN"),
        help="with --url: an operator's bearer token (default $HOTLINE_TOKEN)",
    )
    parser.add_argument("--dir", type=Path, default=CONVERSATIONS_DIR, help="conversation files")
    parser.add_argument("--kind", action="append", help="only conversations of this kind")
    parser.add_argument("--id", action="append", dest="ids", help="only these conversation ids")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--verbose", action="store_true", help="transcripts of the failures")
    args = parser.parse_args(argv)

    conversations = load_conversations(args.dir)
    if args.kind or args.ids:  # either one selects
        kinds, ids = set(args.kind or ()), set(args.ids or ())
        conversations = [c for c in conversations if c.kind in kinds or c.id in ids]
    entries = load_entries()
    answers = Answers(entries)

    isolated = None
    if args.url:
        stack = Stack(args.url, token=args.token)
    else:
        from hotline.serve import start_isolated

        isolated = start_isolated(Path(tempfile.mkdtemp(prefix="hotline-conv-")))
        stack = Stack(isolated.url)
    try:
        stack.wait_ready()
        if isolated is not None:  # after the app has migrated its database
            from accounts.service_accounts import service_token

            stack.token = service_token(isolated.database_url)
        started = time.monotonic()
        runs = run_all(stack, conversations, answers, progress=not args.json)
        took = time.monotonic() - started
        for run in runs:
            score(run, answers)
        diagnose(stack, runs)
    finally:
        if isolated is not None:
            isolated.stop()
    summary = summarise(runs)
    summary["search"] = search_summary(runs)
    if args.json:
        print(json.dumps(as_json(summary, runs, took), ensure_ascii=False, indent=2))
    else:
        print_report(summary, runs, args.verbose, took)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
