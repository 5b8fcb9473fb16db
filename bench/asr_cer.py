"""ASR benchmark: character error rate on synthetic hotline speech at 16 kHz and 8 kHz.

    .venv/bin/python -m bench.asr_cer [--engines whisper,vosk-ko] [--compute-types int8,float32]
        [--voice V] [--limit N] [--verbose]

The utterances (bench/data/asr_utterances.yml, ≥ 60 questions, complaints with addresses,
spoken phone and work-order numbers, short IVR replies) are spoken at 16 kHz by one of:

* ``--voice neural`` (the default): recordings shipped in bench/data/asr_audio/, made once with a
  neural Mandarin TTS (FastSpeech2 + MelGAN, see bench/data/asr_audio/make_audio.py) — close
  enough to human speech for an ASR measurement;
* ``--voice cmn-latn-pinyin+f3`` (any espeak-ng voice): the project's own TTS
  (speech.tts.EspeakTTS). Its formant Mandarin is hard to understand even for people, and
  Whisper-base gets more than half of its characters wrong, so it measures the voice more than
  the recogniser;

and degraded to phone quality for the 8 kHz set: band-limited to 300–3400 Hz, resampled to
8 kHz, G.711 µ-law encoded and decoded (sox, without dither, so every run hears the same
audio), plus seeded white noise at 30 dB SNR. Each utterance is streamed through a recogniser
in 20-ms chunks with 0.3 s of silence before and 1.0 s after, so VAD endpointing (not
finish()) produces the final.

Reported per engine and rate:
* CER raw: the engine's text (simplified, punctuation removed) against the reference, both with
  numbers written as spoken (speech.normalize.to_spoken), so "11点" and "十一点" compare equal,
  and 幺 (how 1 is read in numbers) written 一 on both sides;
* CER norm: after speech.normalize.normalize_transcript (digit strings, confusion table);
* CER lex: after what a call session sends the bot (speech.lexicon with the gateway's vocabulary,
  gateway/voice_lexicon.py: normalisation, then the hotline-vocabulary correction at the pinyin
  level), with how many utterances it made better and worse, and how many of the reference texts
  (correct transcripts) it changes;
* digits: phone/order numbers captured exactly, in the raw text, after normalisation, and by
  hotline.numbers.digits_in_answer (the IVR asked for a number: digit homophones count);
* RTF: recogniser CPU wall time / audio duration; model RSS and RSS per open recogniser.

``--compute-types int8,float32`` runs Whisper once per weight type (HOTLINE_ASR_COMPUTE_TYPE);
``--windows utterance,30s`` compares what Whisper's encoder sees (speech/whisper_decode.py: the
utterance, the default, or faster-whisper's padded 30-s window); ``--whisper-model-dir DIR``
(repeatable) also runs Whisper with another CTranslate2 model folder
(e.g. a converted whisper-small) on the same audio, after Whisper-base.

vosk-ko (the Korean model from PyPI) cannot transcribe Chinese: its CER is reported as n/a,
and it is run on the same audio for speed and memory only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import yaml

from gateway.voice_lexicon import hotline_lexicon
from hotline.numbers import digits_in_answer
from speech.audio import float_to_pcm, pcm_to_float
from speech.engine import ASREngine
from speech.normalize import (
    digit_strings,
    edit_distance,
    normalize_transcript,
    strip_punctuation,
    to_simplified,
    to_spoken,
)
from speech.tts import EspeakTTS

DATA = Path(__file__).resolve().parent / "data" / "asr_utterances.yml"
RECORDINGS = Path(__file__).resolve().parent / "data" / "asr_audio"
NEURAL = "neural"
CHUNK_SECONDS = 0.02
MULAW = ["-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", "8000"]
LEXICON = hotline_lexicon()  # what the call sessions correct transcripts with


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def canonical_raw(text: str) -> str:
    return strip_punctuation(to_spoken(to_simplified(text))).replace("幺", "一")


def canonical_norm(text: str) -> str:
    return strip_punctuation(to_spoken(normalize_transcript(text))).replace("幺", "一")


def phone_quality(pcm16k: bytes, seed: int, snr_db: float = 30.0) -> bytes:
    """16 kHz studio audio → 8 kHz telephone audio (300–3400 Hz, µ-law, a little noise)."""
    raw16 = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1"]
    mulaw = subprocess.run(
        ["sox", "-q", "-D", *raw16, "-r", "16000", "-", *MULAW, "-", "sinc", "300-3400"],
        input=pcm16k,
        capture_output=True,
        check=True,
    ).stdout
    pcm8k = subprocess.run(
        ["sox", "-q", *MULAW, "-", *raw16, "-"],
        input=mulaw,
        capture_output=True,
        check=True,
    ).stdout
    samples = pcm_to_float(pcm8k)
    power = float(np.mean(samples**2)) or 1e-9
    noise = np.random.default_rng(seed).normal(
        0, np.sqrt(power / 10 ** (snr_db / 10)), len(samples)
    )
    return float_to_pcm(samples + noise.astype(np.float32))


@dataclass
class Utterance:
    id: str
    kind: str
    text: str
    audio: dict[int, bytes] = field(default_factory=dict)


def load_utterances(limit: int | None) -> list[Utterance]:
    items = yaml.safe_load(DATA.read_text(encoding="utf-8"))["utterances"]
    utts = [Utterance(i["id"], i["kind"], i["text"]) for i in items]
    return utts[:limit] if limit else utts


def read_recording(path: Path) -> bytes:
    """A shipped recording (any format sox reads) → slin16 at 16 kHz."""
    raw16 = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "16000"]
    return subprocess.run(
        ["sox", "-q", "-D", str(path), *raw16, "-"], capture_output=True, check=True
    ).stdout


def synthesize(utts: list[Utterance], voice: str) -> None:
    """16 kHz audio (shipped recordings or espeak-ng) and its 8 kHz phone-line copy."""
    tts = None if voice == NEURAL else EspeakTTS(voice=voice)
    for n, u in enumerate(utts):
        if tts is None:
            u.audio[16000] = read_recording(RECORDINGS / f"{u.id}.flac")
        else:
            u.audio[16000] = tts.synthesize(u.text, 16000)
        u.audio[8000] = phone_quality(u.audio[16000], seed=n)


def stream(engine: ASREngine, pcm: bytes, rate: int) -> tuple[str, float]:
    """Run one utterance through a fresh recogniser; returns (text, seconds spent)."""
    silence = b"\0\0" * rate
    audio = silence[: int(0.3 * rate) * 2] + pcm + silence
    chunk = int(rate * CHUNK_SECONDS) * 2
    rec = engine.recognizer(rate)
    finals: list[str] = []
    t0 = time.perf_counter()
    for off in range(0, len(audio), chunk):
        finals += [r.text for r in rec.accept(audio[off : off + chunk]) if r.final]
    finals += [r.text for r in rec.finish() if r.final]
    return "".join(finals), time.perf_counter() - t0


@dataclass
class Score:
    errors_raw: int = 0
    errors_norm: int = 0
    errors_lex: int = 0
    lex_better: int = 0
    lex_worse: int = 0
    ref_chars: int = 0
    digits_total: int = 0
    digits_raw: int = 0
    digits_norm: int = 0
    digits_slot: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0
    samples: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, u: Utterance, hyp: str, seconds: float, rate: int) -> None:
        ref_raw = canonical_raw(u.text)
        self.ref_chars += len(ref_raw)
        self.errors_raw += edit_distance(ref_raw, canonical_raw(hyp))
        ref_norm = canonical_norm(u.text)
        errors_norm = edit_distance(ref_norm, canonical_norm(hyp))
        errors_lex = edit_distance(ref_norm, canonical_norm(LEXICON.transcript_for_bot(hyp)))
        self.errors_norm += errors_norm
        self.errors_lex += errors_lex
        self.lex_better += errors_lex < errors_norm
        self.lex_worse += errors_lex > errors_norm
        self.seconds += seconds
        self.audio_seconds += len(u.audio[rate]) / 2 / rate
        for expected in digit_strings(u.text):
            self.digits_total += 1
            self.digits_raw += expected in digit_strings(hyp)
            self.digits_norm += expected in digit_strings(normalize_transcript(hyp))
            self.digits_slot += digits_in_answer(hyp) == expected
        self.samples.append((u.id, u.text, hyp))


def references_changed(utts: list[Utterance]) -> int:
    """How many reference texts (correct transcripts) the lexicon correction changes."""
    return sum(
        LEXICON.correct(normalize_transcript(u.text)) != normalize_transcript(u.text) for u in utts
    )


class WhisperOptions(TypedDict, total=False):
    """The WhisperEngine settings the variants change (the rest keep the engine's defaults)."""

    model_dir: Path
    prompt: str
    beam_size: int
    compute_type: str
    window: str


def load_engine(name: str, **kw: Unpack[WhisperOptions]) -> ASREngine:
    if name == "vosk-ko":
        from speech.asr_vosk import VoskEngine
        from speech.models import korean_vosk_model_dir

        return VoskEngine(korean_vosk_model_dir())
    from speech.asr_whisper import WhisperEngine

    return WhisperEngine(**kw)


def run(name: str, utts: list[Utterance], rates: list[int], **kw: Unpack[WhisperOptions]) -> dict:
    before = rss_mb()
    t0 = time.perf_counter()
    engine = load_engine(name, **kw)
    load_s = time.perf_counter() - t0
    model_rss = rss_mb() - before
    recs_before = rss_mb()
    open_recs = [engine.recognizer(8000) for _ in range(20)]
    for rec in open_recs:  # give each some audio so buffers exist
        rec.accept(utts[0].audio[8000][:16000])
    per_rec = (rss_mb() - recs_before) / len(open_recs)
    del open_recs
    scores = {}
    for rate in rates:
        score = Score()
        for u in utts:
            hyp, secs = stream(engine, u.audio[rate], rate)
            score.add(u, hyp, secs, rate)
        scores[rate] = score
    return {"load_s": load_s, "model_rss": model_rss, "rec_rss": per_rec, "scores": scores}


def report(label: str, res: dict, cer: bool, verbose: bool) -> None:
    for rate, s in res["scores"].items():
        rtf = s.seconds / s.audio_seconds
        if cer:
            print(
                f"| {label} | {rate // 1000} kHz | {100 * s.errors_raw / s.ref_chars:.1f} % | "
                f"{100 * s.errors_norm / s.ref_chars:.1f} % | "
                f"{100 * s.errors_lex / s.ref_chars:.1f} % (+{s.lex_better}/−{s.lex_worse}) | "
                f"{s.digits_raw}/{s.digits_total} | "
                f"{s.digits_norm}/{s.digits_total} | {s.digits_slot}/{s.digits_total} | "
                f"{rtf:.2f} | {res['model_rss']:.0f} MB | "
                f"{res['rec_rss']:.2f} MB |"
            )
        else:
            print(
                f"| {label} | {rate // 1000} kHz | n/a | n/a | n/a | n/a | n/a | n/a | {rtf:.2f} | "
                f"{res['model_rss']:.0f} MB | {res['rec_rss']:.2f} MB |"
            )
        if verbose:
            for uid, ref, hyp in s.samples:
                print(f"    {uid} {ref} -> {hyp}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="whisper,vosk-ko")
    parser.add_argument("--rates", default="16000,8000")
    parser.add_argument("--limit", type=int, default=None, help="first N utterances only")
    parser.add_argument(
        "--variants", action="store_true", help="also Whisper without prompt and with beam 1"
    )
    parser.add_argument(
        "--voice",
        default=NEURAL,
        help=f"{NEURAL!r} (shipped recordings, the default) or an espeak-ng voice",
    )
    parser.add_argument("--verbose", action="store_true", help="print every transcript (stderr)")
    parser.add_argument(
        "--compute-types",
        default="int8",
        help="Whisper weight types to compare, e.g. int8,float32 (HOTLINE_ASR_COMPUTE_TYPE)",
    )
    parser.add_argument(
        "--windows",
        default="utterance",
        help="Whisper encoder windows to compare: utterance (the default), 30s (faster-whisper's)",
    )
    parser.add_argument(
        "--whisper-model-dir",
        type=Path,
        action="append",
        default=[],
        help="also run Whisper with this CTranslate2 model folder (repeatable)",
    )
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    utts = load_utterances(args.limit)
    t0 = time.perf_counter()
    synthesize(utts, args.voice)
    audio_s = sum(len(u.audio[16000]) / 32000 for u in utts)
    print(
        f"{len(utts)} utterances, voice {args.voice}, {audio_s:.0f} s of audio, prepared in "
        f"{time.perf_counter() - t0:.1f} s; the lexicon correction changes "
        f"{references_changed(utts)} of the {len(utts)} reference texts\n"
    )
    print(
        "| engine | rate | CER raw | CER norm | CER lex (better/worse) | digits raw | "
        "digits norm | digits slot | RTF | model RSS | RSS/recogniser |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.engines.split(","):
        if name == "whisper" and args.variants:
            report("whisper, no prompt", run(name, utts, rates, prompt=""), True, args.verbose)
            for window in args.windows.split(","):
                res = run(name, utts, rates, beam_size=1, window=window)
                report(f"whisper, {window} window, beam 1", res, True, args.verbose)
        if name != "whisper":
            report(name, run(name, utts, rates), name != "vosk-ko", args.verbose)
            continue
        for compute in args.compute_types.split(","):
            for window in args.windows.split(","):
                label = f"whisper-base {compute}, {window} window, domain prompt, beam 5"
                res = run(name, utts, rates, compute_type=compute, window=window)
                report(label, res, True, args.verbose)
            for folder in args.whisper_model_dir:
                label = f"whisper {folder.name} {compute}, domain prompt, beam 5"
                res = run(name, utts, rates, model_dir=folder, compute_type=compute)
                report(label, res, True, args.verbose)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
