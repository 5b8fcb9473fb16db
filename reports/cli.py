"""`hotline report monthly --month YYYY-MM --out DIR`: report.html, report.xlsx, PNG charts and
the knowledge-gap CSV, with a progress bar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hotline import db
from hotline.settings import get_settings
from reports.build import STEPS, build_report
from reports.charts import MissingGlyphs, draw_all
from reports.gaps import write_gaps_csv
from reports.period import Month
from reports.render import GAPS_CSV, write_html, write_xlsx

app = typer.Typer(help="Reports (通报).", no_args_is_help=True)
console = Console(stderr=True)
CENTRE = "12345政务服务便民热线"


def write_monthly(
    url: str,
    month: Month,
    out: Path,
    *,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    centre: str = CENTRE,
) -> list[Path]:
    """Build and write the whole report into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    task = progress.add_task("月度通报", total=len(STEPS) + 3) if progress else None

    def step(name: str) -> None:
        if progress is not None and task is not None:
            progress.update(task, advance=1, description=name)

    report = build_report(url, month, as_of=as_of, progress=step)
    step("图表")
    charts = draw_all(report, out)
    step("HTML")
    files = [write_html(report, out, charts, centre), *charts]
    step("XLSX")
    files.append(write_xlsx(report, out, centre))
    files.append(write_gaps_csv(out / GAPS_CSV, report.gaps, month.label))
    return files


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM (centre's time zone)")],
    out: Annotated[Path, typer.Option(help="folder for report.html, report.xlsx, *.png")],
    database_url: Annotated[str | None, typer.Option(help="default: HOTLINE_DATABASE_URL")] = None,
) -> None:
    """The monthly report (月度通报) like a centre's own circular, plus the analysis."""
    settings = get_settings()
    try:
        period = Month.parse(month, settings.timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    url = database_url or settings.database_url
    db.upgrade(url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            files = write_monthly(url, period, out, as_of=datetime.now(UTC), progress=progress)
    except MissingGlyphs as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for f in files:
        typer.echo(str(f))
