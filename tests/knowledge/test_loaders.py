"""Every loader with good and bad input: valid rows load, bad ones are named with file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import Workbook

from knowledge.loaders import load_path, load_table, load_yaml, parse_date, split_passages

GOOD_YAML = """\
domain: 出入境
sample: true
department: 市公安局出入境管理支队
entries:
  - id: crj-901
    question: 护照在哪里办？
    alternatives: [护照去哪办, 办护照的地方, 护找在哪办]
    answer: 请到户籍所在地的出入境管理窗口办理。
    voice_answer: 请到出入境管理窗口办理。
    source: {title: 通用办事指引（示例数据）}
    region: 全国
    reviewed: 2026-11-01
  - id: crj-902
    question: 缺答案的条目
    source: {title: x}
  - id: crj-903
    question: 过期的条目
    answer: 旧政策。
    source: {title: x, date: 2022-01-01}
    expires: 2023-01-08
"""


def test_yaml_loads_valid_entries_and_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "churujing.yml"
    path.write_text(GOOD_YAML, encoding="utf-8")
    result = load_yaml(path)
    assert [e.id for e in result.entries] == ["crj-901", "crj-903"]
    first = result.entries[0]
    assert first.domain == "出入境" and first.department == "市公安局出入境管理支队"
    assert first.sample and first.phrasings()[0] == "护照在哪里办？"
    assert [str(p) for p in result.problems] == [f"{path}:13: answer: Field required"]
    assert not result.entries[1].valid_on(date(2026, 11, 22))
    assert result.entries[1].valid_on(date(2022, 6, 1))


def test_broken_yaml_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("entries:\n  - id: x\n    question: [unclosed\n", encoding="utf-8")
    result = load_yaml(path)
    assert result.entries == []
    assert str(result.problems[0]).startswith(f"{path}:")
    assert "cannot read" in result.problems[0].reason


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text(
        "entries:\n"
        "  - {id: a-1, question: 问, answer: 答, source: {title: t}}\n"
        "  - {id: a-1, question: 问2, answer: 答2, source: {title: t}}\n",
        encoding="utf-8",
    )
    result = load_yaml(path)
    assert len(result.entries) == 1
    assert result.problems[0].line == 3 and "duplicate id a-1" in result.problems[0].reason


CSV_TEXT = """编号,标准问,相似问,答案,来源,发布日期,失效日期,责任部门
gjj-901,公积金怎么提取？,公积金咋取|取公积金；公基金提取,带身份证到公积金中心办理。,某市公积金管理办法,2024/6/1,,市住房公积金中心
gjj-902,,没有问题的行,答案,来源,,,
gjj-903,公积金贷款额度？,贷款能贷多少,"以当地规定为准，
请咨询12329。",来源,2024年6月1日,不是日期,
"""


def test_csv_export_with_default_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    result = load_table(path)
    [entry] = result.entries
    assert entry.id == "gjj-901"
    assert entry.alternatives == ["公积金咋取", "取公积金", "公基金提取"]
    assert entry.source.date == date(2024, 6, 1)
    assert entry.department == "市住房公积金中心"
    reasons = {p.line: p.reason for p in result.problems}
    assert reasons[3] == "question: Field required"
    assert reasons[4] == "not a date: '不是日期' (use 2024-08-06)"  # multi-line row starts on 4


def test_csv_with_an_explicit_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("kid,q,a,src\nk-1,问题一,答案一,文件一\n", encoding="utf-8")
    mapping = {"id": "kid", "question": "q", "answer": "a", "source_title": "src"}
    [entry] = load_table(path, mapping).entries
    assert (entry.id, entry.question, entry.source.title) == ("k-1", "问题一", "文件一")
    wrong = load_table(path, {"id": "kid", "question": "问题列"})
    assert str(wrong.problems[0]) == f"{path}:1: columns not in the file: 问题列"


def test_xlsx_export(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "标准问", "答案", "来源", "生效日期"])
    sheet.append(
        ["sb-901", "社保怎么转移？", "在新参保地申请转移接续。", "通用指引", date(2024, 1, 1)]
    )
    sheet.append(["sb-902", "没有答案", None, "通用指引", None])
    book.save(path)
    result = load_path(path)[0]
    [entry] = result.entries
    assert entry.id == "sb-901" and entry.effective == date(2024, 1, 1)
    assert [(p.line, p.reason) for p in result.problems] == [(3, "answer: Field required")]


def test_text_document_becomes_passages_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "通知.md"
    body = "".join(
        f"第{i}条 这是一条足够长的政策规定，用来测试分段是否保留位置。" for i in range(30)
    )
    path.write_text(f"# 关于某某事项的通知\n\n{body}", encoding="utf-8")
    result = load_path(path)[0]
    assert len(result.entries) > 3
    assert all(e.kind == "passage" and e.doc_id == "通知" for e in result.entries)
    assert [e.position for e in result.entries] == list(range(len(result.entries)))
    assert result.entries[0].question == "关于某某事项的通知"
    assert result.entries[2].id == "通知#2"


def test_documents_csv_with_id_and_text(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text("docid,text\nd1,第一份文件。内容。\nd2,\n", encoding="utf-8")
    result = load_path(path)[0]
    assert [e.id for e in result.entries] == ["d1#0"]
    assert [(p.line, p.reason) for p in result.problems] == [(3, "empty text")]


def test_unsupported_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "kb.pdf"
    path.write_bytes(b"%PDF")
    assert load_path(path)[0].problems[0].reason == "unsupported file type .pdf"


def test_passages_overlap_and_cover_the_text() -> None:
    text = "".join(f"句子{i:03d}的内容在这里。" for i in range(100))
    passages = split_passages(text, size=120, overlap=30)
    assert all(len(p) <= 120 for p in passages)
    assert all(p.endswith("。") for p in passages[:-1])  # cut at sentence ends
    for i in range(100):
        assert any(f"句子{i:03d}" in p for p in passages)


def test_parse_date_forms() -> None:
    assert parse_date("2024-08-06") == parse_date("2024/8/6") == parse_date("2024年8月6日")
    assert parse_date("") is None


def test_the_shipped_sample_kb_loads_cleanly() -> None:
    results = load_path(Path(__file__).resolve().parents[2] / "knowledge" / "kb")
    entries = [e for r in results for e in r.entries]
    assert [str(p) for r in results for p in r.problems] == []
    assert len(entries) >= 300
    assert len({e.domain for e in entries}) >= 15
    assert all(len(e.alternatives) >= 3 for e in entries)
    assert all(e.sample for e in entries)
