"""Read knowledge from the project's YAML files, hotline KB exports (CSV/XLSX) and policy documents.

Every loader returns the valid entries and a list of problems, each naming the file, the line
(or spreadsheet row) and the reason, so one bad row never stops the others from loading.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.schema import Entry

PASSAGE_CHARS = 300
PASSAGE_OVERLAP = 75
TABLE_SUFFIXES = {".csv", ".xlsx"}
DOCUMENT_SUFFIXES = {".txt", ".md"}
YAML_SUFFIXES = {".yml", ".yaml"}

# Our field -> the column headers hotline KB systems commonly export it under.
DEFAULT_COLUMNS: dict[str, list[str]] = {
    "id": ["编号", "知识编号", "ID", "id"],
    "question": ["标准问", "标准问题", "问题", "标题", "question"],
    "alternatives": ["相似问", "相似问法", "扩展问", "alternatives"],
    "answer": ["答案", "标准答案", "答复口径", "answer"],
    "voice_answer": ["语音答案", "电话答复", "voice_answer"],
    "source_title": ["来源", "政策依据", "依据", "source"],
    "source_article": ["条款", "article"],
    "source_date": ["发布日期", "source_date"],
    "source_url": ["链接", "网址", "url"],
    "domain": ["领域", "业务领域", "domain"],
    "department": ["责任部门", "承办部门", "部门", "department"],
    "category": ["分类", "类别", "category"],
    "region": ["区域", "地区", "region"],
    "effective": ["生效日期", "effective"],
    "expires": ["失效日期", "截止日期", "expires"],
    "reviewed": ["审核日期", "更新日期", "reviewed"],
}
ALTERNATIVE_SEPARATORS = re.compile(r"[\n|；;]+")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class LoadResult:
    """What one file gave: its entries (with the file as their origin) and its problems."""

    origin: str
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int | None, reason: str) -> None:
        self.problems.append(Problem(self.origin, line, reason))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "entry"
        parts.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _add(result: LoadResult, line: int | None, data: dict[str, Any], seen: set[str]) -> None:
    try:
        entry = Entry.model_validate(data)
    except ValidationError as exc:
        result.problem(line, _describe(exc))
        return
    if entry.id in seen:
        result.problem(line, f"duplicate id {entry.id}")
        return
    seen.add(entry.id)
    result.entries.append(entry)


# --- YAML: the project's own files, one domain per file ---------------------------------------


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line each mapping starts on (for error messages)."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_yaml(path: Path) -> LoadResult:
    result = LoadResult(str(path))
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        result.problem(mark.line + 1 if mark else None, f"cannot read: {exc}")
        return result
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        result.problem(None, "expected a mapping with an 'entries' list")
        return result
    defaults = {k: doc[k] for k in ("domain", "department", "sample", "region") if k in doc}
    seen: set[str] = set()
    for raw in doc["entries"]:
        if not isinstance(raw, dict):
            result.problem(None, f"entry is not a mapping: {raw!r}"[:120])
            continue
        line = raw.pop("__line__", None)
        if isinstance(raw.get("source"), dict):
            raw["source"].pop("__line__", None)
        _add(result, line, {**defaults, **{k: v for k, v in raw.items() if v is not None}}, seen)
    return result


# --- Tables: CSV/XLSX exports of an existing hotline knowledge system -------------------------


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, {header: value}) for each data row of a CSV or XLSX file."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        for number, values in enumerate(rows, start=2):
            if any(v not in (None, "") for v in values):
                yield number, dict(zip(header, values, strict=False))
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                yield start, dict(zip(header, values, strict=False))
            start = reader.line_num + 1


def parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    m = re.fullmatch(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*", str(value))
    if not m:
        raise ValueError(f"not a date: {value!r} (use 2024-08-06)")
    return date(int(m[1]), int(m[2]), int(m[3]))


def resolve_columns(header: Iterable[str], mapping: dict[str, str] | None) -> dict[str, str]:
    """Our field -> the file's header, from an explicit mapping or the common Chinese names."""
    present = set(header)
    if mapping:
        missing = [col for col in mapping.values() if col not in present]
        if missing:
            raise ValueError(f"columns not in the file: {', '.join(missing)}")
        return dict(mapping)
    found = {}
    for name, candidates in DEFAULT_COLUMNS.items():
        for col in candidates:
            if col in present:
                found[name] = col
                break
    return found


def load_table(
    path: Path, mapping: dict[str, str] | None = None, defaults: dict[str, Any] | None = None
) -> LoadResult:
    """A KB export with one entry per row; `mapping` maps our fields to the file's headers."""
    result = LoadResult(str(path))
    try:
        rows = list(_rows(path))
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        result.problem(None, f"cannot read: {exc}")
        return result
    if not rows:
        result.problem(None, "no data rows")
        return result
    try:
        columns = resolve_columns(rows[0][1].keys(), mapping)
    except ValueError as exc:
        result.problem(1, str(exc))
        return result
    for required in ("id", "question", "answer"):
        if required not in columns:
            result.problem(1, f"no column for '{required}' (give a column mapping)")
            return result
    seen: set[str] = set()
    for line, row in rows:
        cell = {name: row.get(col) for name, col in columns.items()}
        try:
            data = _entry_from_cells(cell, defaults or {})
        except ValueError as exc:
            result.problem(line, str(exc))
            continue
        _add(result, line, data, seen)
    return result


def _entry_from_cells(cell: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    def text(name: str) -> str | None:
        value = cell.get(name)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    data: dict[str, Any] = dict(defaults)
    for name in ("id", "question", "answer", "voice_answer", "domain", "department",
                 "category", "region"):  # fmt: skip
        if text(name) is not None:
            data[name] = text(name)
    data["alternatives"] = [
        a for a in ALTERNATIVE_SEPARATORS.split(text("alternatives") or "") if a.strip()
    ]
    for name in ("effective", "expires", "reviewed"):
        data[name] = parse_date(cell.get(name))
    data["source"] = {
        "title": text("source_title") or defaults.get("source_title") or "（未注明来源）",
        "article": text("source_article"),
        "date": parse_date(cell.get("source_date")),
        "url": text("source_url"),
    }
    data.pop("source_title", None)
    return data


# --- Policy documents: plain text/Markdown files, or a CSV of id + text -----------------------

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


def split_passages(
    text: str, size: int = PASSAGE_CHARS, overlap: int = PASSAGE_OVERLAP
) -> list[str]:
    """Split into passages of about `size` characters, cut at sentence ends where possible,
    each starting `overlap` characters before the previous one ended (answers that straddle a
    cut stay whole in one of the two)."""
    text = re.sub(r"[ \t\u3000]+", " ", text).strip()
    if len(text) <= size:
        return [text] if text else []
    passages, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max((m.start() for m in _SENTENCE_END.finditer(text, start + size // 2, end)),
                      default=end)  # fmt: skip
            end = cut if cut > start else end
        passages.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return [p for p in passages if p]


def document_entries(
    doc_id: str, text: str, origin: str, defaults: dict[str, Any] | None = None,
    size: int = PASSAGE_CHARS, overlap: int = PASSAGE_OVERLAP,
) -> list[dict[str, Any]]:  # fmt: skip
    """One entry per passage of a document; the first line is taken as the document's title."""
    lines = [ln.strip().lstrip("#").strip() for ln in text.splitlines() if ln.strip()]
    title = (lines[0] if lines else doc_id)[:120]
    out = []
    for i, passage in enumerate(split_passages(text, size, overlap)):
        out.append(
            {
                **(defaults or {}),
                "id": f"{doc_id}#{i}",
                "kind": "passage",
                "question": title,
                "answer": passage,
                "source": {"title": title},
                "doc_id": doc_id,
                "position": i,
            }
        )
    return out


def load_document(path: Path, defaults: dict[str, Any] | None = None) -> LoadResult:
    result = LoadResult(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.problem(None, f"cannot read: {exc}")
        return result
    seen: set[str] = set()
    doc_id = re.sub(r"[^\w.-]+", "_", path.stem)
    for data in document_entries(doc_id, text, str(path), defaults):
        _add(result, None, data, seen)
    if not result.entries and not result.problems:
        result.problem(None, "empty document")
    return result


def load_documents_csv(
    path: Path,
    id_col: str = "docid",
    text_col: str = "text",
    defaults: dict[str, Any] | None = None,
) -> LoadResult:
    """A CSV with one policy document per row (an id column and a text column)."""
    result = LoadResult(str(path))
    seen: set[str] = set()
    try:
        rows = list(_rows(path))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        result.problem(None, f"cannot read: {exc}")
        return result
    if rows and (id_col not in rows[0][1] or text_col not in rows[0][1]):
        result.problem(1, f"expected columns '{id_col}' and '{text_col}'")
        return result
    for line, row in rows:
        doc_id, text = str(row.get(id_col) or "").strip(), str(row.get(text_col) or "")
        if not doc_id or not text.strip():
            result.problem(line, f"empty {id_col if not doc_id else text_col}")
            continue
        for data in document_entries(doc_id, text, str(path), defaults):
            _add(result, line, data, seen)
    return result


def load_path(
    path: Path, kind: str = "auto", mapping: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> list[LoadResult]:  # fmt: skip
    """Load a file or every supported file under a directory.

    kind: "auto" (by suffix; a CSV with only id+text columns is taken as documents), "faq"
    (tables of entries) or "documents" (policy documents).
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p))
        return [r for f in files for r in load_path(f, kind, mapping, defaults)]
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return [load_yaml(path)]
    if suffix in DOCUMENT_SUFFIXES:
        return [load_document(path, defaults)]
    if suffix in TABLE_SUFFIXES:
        id_col = _document_id_column(path)
        if kind == "documents" or (kind == "auto" and id_col):
            return [load_documents_csv(path, id_col=id_col or "docid", defaults=defaults)]
        return [load_table(path, mapping, defaults)]
    result = LoadResult(str(path))
    result.problem(None, f"unsupported file type {suffix or '(none)'}")
    return [result]


def _supported(path: Path) -> bool:
    suffix = path.suffix.lower()
    if path.name.lower() == "readme.md" or path.name.startswith("."):
        return False
    return suffix in YAML_SUFFIXES | TABLE_SUFFIXES | DOCUMENT_SUFFIXES


def _document_id_column(path: Path) -> str | None:
    """'docid' or 'id' when a CSV holds only an id and a text column (policy documents)."""
    if path.suffix.lower() != ".csv":
        return None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = {h.strip() for h in next(csv.reader(fh), [])}
    for id_col in ("docid", "id"):
        if header == {id_col, "text"}:
            return id_col
    return None
