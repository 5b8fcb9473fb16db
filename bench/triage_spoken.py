"""Spoken questions at 8 kHz through the product's ASR and the triage layer: does a caller get
what a citizen typing the same words gets?

Run: `.venv/bin/python -m bench.triage_spoken [--verbose]`.

The recordings are the ASR benchmark's (bench/data/asr_audio/, made from the texts of
bench/data/asr_utterances.yml, degraded to phone quality as in bench/asr_cer.py). For each
question and complaint, the reference text and the transcript (Whisper-base, then the call
session's own correction, `transcript_for_bot`) go through `Triage.decide`:
- questions the KB answers from their text: "answered as typed" when the transcript gets the
  same entry (target >= 0.9); clarifications and abstentions are listed;
- complaints: "drafted as typed" when the transcript also becomes an order for the same unit.
Neither the texts nor the recordings were used to tune the KB, the thresholds or the models.
"""

from __future__ import annotations

import argparse

from bench.asr_cer import LEXICON, NEURAL, load_engine, load_utterances, stream, synthesize
from bench.triage_consult import scratch_triage
from triage import Answer, Context, Decision, OrderDraft

RATE = 8000


def same(typed: Decision, spoken: Decision) -> bool:
    if isinstance(typed, Answer):
        return isinstance(spoken, Answer) and spoken.entry.id == typed.entry.id
    if isinstance(typed, OrderDraft):
        return isinstance(spoken, OrderDraft) and spoken.department == typed.department
    return typed.kind == spoken.kind


def shown(d: Decision) -> str:
    if isinstance(d, Answer):
        return f"answer {d.entry.id}"
    if isinstance(d, OrderDraft):
        return f"order {d.department}"
    return d.kind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    utts = [u for u in load_utterances(None) if u.kind in ("question", "complaint")]
    synthesize(utts, NEURAL)
    engine = load_engine("whisper")
    triage = scratch_triage()
    rows = []
    for u in utts:
        heard, _ = stream(engine, u.audio[RATE], RATE)
        heard = LEXICON.transcript_for_bot(heard)
        typed = triage.decide(u.text, Context(channel="web"))
        spoken = triage.decide(heard, Context(channel="voice"))
        rows.append((u, heard, typed, spoken))
    answered = [r for r in rows if r[0].kind == "question" and isinstance(r[2], Answer)]
    drafted = [r for r in rows if r[0].kind == "complaint" and isinstance(r[2], OrderDraft)]
    ok_answers = sum(same(r[2], r[3]) for r in answered)
    ok_drafts = sum(same(r[2], r[3]) for r in drafted)
    questions = [r for r in rows if r[0].kind == "question"]
    print(f"questions: {len(questions)}, answered from the text: {len(answered)}, "
          f"answered as typed from 8 kHz speech: {ok_answers} "
          f"({ok_answers / max(len(answered), 1):.3f})")  # fmt: skip
    complaints = [r for r in rows if r[0].kind == "complaint"]
    print(
        f"complaints: {len(complaints)}, orders from the text: {len(drafted)}, "
        f"same unit from speech: {ok_drafts} ({ok_drafts / max(len(drafted), 1):.3f})"
    )
    if args.verbose:
        for u, heard, typed, spoken in rows:
            mark = "ok  " if same(typed, spoken) else "DIFF"
            print(f"{mark} {u.id} {shown(typed):28s} {shown(spoken):28s} {u.text} | {heard}")


if __name__ == "__main__":
    main()
