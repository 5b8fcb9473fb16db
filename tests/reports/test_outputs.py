"""What `hotline report monthly` writes: the HTML, the XLSX (opened with openpyxl), charts that
draw every Chinese character, and the knowledge-gap CSV that the KB import reads back."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from hotline.cli import app
from knowledge.loaders import load_table
from reports import charts
from reports.cli import write_monthly
from reports.period import Month
from tests.reports.fixture import AS_OF, TZ, A, B


@pytest.fixture(scope="module")
def written(month_db: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*Glyph .* missing")  # an empty box fails
        write_monthly(month_db[0], Month(2026, 11, TZ), out, as_of=AS_OF)
    return out


def test_xlsx_has_the_circular_table(written: Path) -> None:
    book = load_workbook(written / "report.xlsx", read_only=True)
    assert "各成员单位办件量统计" in book.sheetnames and "需求预测" in book.sheetnames
    rows = list(book["各成员单位办件量统计"].iter_rows(values_only=True))
    assert rows[0] == (
        "承办单位",
        "交办总量",
        "已办理总量",
        "超时量",
        "回访量",
        "市民满意",
        "市民不满意",
    )
    by_unit = {r[0]: r for r in rows[1:]}
    assert by_unit[A] == (A, 4, 2, 1, 3, "2 (66.67%)", "1 (33.33%)")
    assert by_unit[B] == (B, 2, 1, 1, 1, "1 (100.00%)", "0 (0.00%)")
    assert by_unit["合计"] == ("合计", 6, 3, 2, 4, "3 (75.00%)", "1 (25.00%)")
    ranking = list(book["成员单位考核排名"].iter_rows(values_only=True))
    assert ranking[1][:2] == (1, B) and ranking[2][:2] == (2, A)
    overdue = list(book["各成员单位超期工单统计"].iter_rows(values_only=True))
    assert overdue[0] == ("网络单位", "超期工单（单位：件）")


def test_html_and_charts(written: Path) -> None:
    page = (written / "report.html").read_text(encoding="utf-8")
    assert "2026年11月工作情况通报" in page and "各成员单位办件量统计" in page
    assert "当场答复率" in page and "50.00%" in page
    for name in ("categories.png", "units.png", "forecast.png"):
        assert (written / name).stat().st_size > 5000, name
        assert f'src="{name}"' in page


def test_chart_font_covers_chinese_and_refuses_what_it_lacks(tmp_path: Path) -> None:
    font = charts.cjk_font()
    assert not charts.missing_glyphs(font, "市城市管理局按时办结率满意率件/周（）")
    with pytest.raises(charts.MissingGlyphs, match="𐲀"):
        charts._check(["满意率𐲀"])  # an Old Hungarian letter: no CJK font draws it


def test_gap_csv_round_trips_through_the_kb_import(written: Path, tmp_path: Path) -> None:
    path = written / "knowledge_gaps.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["答案"] == "" for r in rows)
    unfilled = load_table(path)
    assert not unfilled.entries and unfilled.problems  # no answer yet: nothing imported
    for r in rows:  # the editor writes the answers
        r["答案"] = f"关于「{r['标准问']}」，请咨询相关部门。"
    filled = tmp_path / "filled.csv"
    with open(filled, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    loaded = load_table(filled)
    assert not loaded.problems
    assert [e.question for e in loaded.entries] == [r["标准问"] for r in rows]
    asked = {e.question for e in loaded.entries} | {
        a for e in loaded.entries for a in e.alternatives
    }
    # quoted with the phone number masked: reports leave the centre
    assert asked == {"我家楼上漏水谁管，电话139****5678", "社保", "狗证在哪里办"}


def test_cli_refuses_a_bad_month(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "monthly",
            "--month",
            "2026-13",
            "--out",
            str(tmp_path),
            "--database-url",
            "sqlite://",
        ],
    )
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_cli_writes_the_files(month_db: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "monthly",
            "--month",
            "2026-11",
            "--out",
            str(tmp_path),
            "--database-url",
            month_db[0],
        ],
    )
    assert result.exit_code == 0, result.output
    assert {"report.html", "report.xlsx", "knowledge_gaps.csv"} <= {
        p.name for p in tmp_path.iterdir()
    }
