"""Small PCM helpers shared by the engines (slin16 mono everywhere)."""

from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SAMPLE_WIDTH = 2


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """slin16 bytes → float32 samples in [-1, 1)."""
    usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm(samples: np.ndarray) -> bytes:
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Polyphase resampling (8 kHz → 16 kHz is an exact 2× upsampling with a low-pass)."""
    if src_rate == dst_rate:
        return samples.astype(np.float32, copy=False)
    g = gcd(src_rate, dst_rate)
    return resample_poly(samples, dst_rate // g, src_rate // g).astype(np.float32)


def resample_pcm(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    return float_to_pcm(resample(pcm_to_float(pcm), src_rate, dst_rate))


def duration(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / SAMPLE_WIDTH / sample_rate


def rms_dbfs(pcm: bytes) -> float:
    """Loudness in dB relative to full scale (-inf for digital silence)."""
    samples = pcm_to_float(pcm)
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def read_wav(path: Path) -> tuple[bytes, int]:
    """A mono 16-bit WAV file → (slin16 bytes, sample rate)."""
    with wave.open(str(path), "rb") as wf:
        if wf.getnchannels() != 1 or wf.getsampwidth() != SAMPLE_WIDTH:
            raise ValueError(f"{path}: need mono 16-bit PCM")
        return wf.readframes(wf.getnframes()), wf.getframerate()


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(SAMPLE_WIDTH)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm)
