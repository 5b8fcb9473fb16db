"""Write the report: report.html (Jinja2, our own CSS, the PNG charts beside it), report.xlsx
(openpyxl, one sheet per table) and the knowledge-gap CSV."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports import tables
from reports.build import MonthlyReport
from reports.forecast import MODELS

TEMPLATES = Path(__file__).resolve().parent / "templates"
GAPS_CSV = "knowledge_gaps.csv"


def basics(report: MonthlyReport) -> list[str]:
    """一、基本情况 in sentences, from the figures."""
    t, total, c = report.totals, report.total, report.contacts
    lines = [
        f"{report.month.zh}热线共受理工单 {t.received} 件，其中当即办结 {t.direct} 件，"
        f"转办成员单位 {total.assigned} 件，待派单 {t.pending} 件。",
        f"成员单位已办理 {total.handled} 件，超时 {total.overdue} 件；回访 {total.visited} 件，"
        f"市民满意 {total.satisfied} 件，满意率 {tables.pct(total.satisfaction_rate)}；"
        f"退单 {total.returned} 件，重办 {total.redone} 件。",
        f"智能客服与话务员共接待咨询会话 {c.contacts} 个，当场答复 {c.resolved_on_the_spot} 个"
        f"（当场答复率 {tables.pct(c.on_the_spot_rate)}），转人工率 {tables.pct(c.handoff_rate)}，"
        f"弃答率 {tables.pct(c.abstain_rate)}。",
    ]
    if report.categories:
        top = "、".join(f"{s.name}（{s.count} 件）" for s in report.categories[:5])
        lines.append(f"诉求量较多的领域有：{top}。")
    if report.units:
        units = "、".join(u.now.department for u in report.units[:5])
        lines.append(f"诉求涉及较多的单位有：{units}。")
    return lines


def write_html(report: MonthlyReport, out: Path, charts: list[Path], centre: str) -> Path:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    page = env.get_template("report.html").render(
        report=report,
        centre=centre,
        basics=basics(report),
        charts=[c.name for c in charts],
        sections=[(title, *fn(report)) for title, fn in tables.SECTIONS],
        models=list(MODELS),
        gaps_csv=GAPS_CSV,
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_xlsx(report: MonthlyReport, out: Path, centre: str) -> Path:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "基本情况"
    summary.append([f"{centre} {report.month.zh}工作情况通报"])
    summary["A1"].font = Font(bold=True, size=14)
    for line in basics(report):
        summary.append([line])
    summary.column_dimensions["A"].width = 120
    for title, fn in tables.SECTIONS:
        head, rows = fn(report)
        sheet = book.create_sheet(title[:31])
        sheet.append(head)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDE8F5")
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in rows:
            sheet.append(row)
        for i, name in enumerate(head, start=1):
            longest = max([len(str(name)), *(len(str(r[i - 1])) for r in rows)])
            sheet.column_dimensions[get_column_letter(i)].width = min(max(longest * 1.8, 8), 60)
        sheet.freeze_panes = "A2"
    path = out / "report.xlsx"
    book.save(path)
    return path
