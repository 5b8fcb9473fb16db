"""`hotline orders list|show|scan`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline import db
from hotline.settings import get_settings
from workorders import sla, store
from workorders.queries import OrderFilter

app = typer.Typer(help="Work orders (工单).", no_args_is_help=True)
console = Console()


def _url() -> str:
    url = get_settings().database_url
    db.upgrade(url)
    return url


@app.command("list")
def orders_list(
    status: Annotated[list[str] | None, typer.Option(help="e.g. 已派单 (repeatable)")] = None,
    department: Annotated[str | None, typer.Option()] = None,
    warning: Annotated[list[str] | None, typer.Option(help="yellow | orange | red")] = None,
    text: Annotated[str | None, typer.Option(help="words in the request")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Open and recent orders, newest first (contact data masked)."""
    now = datetime.now(UTC)
    try:
        where = OrderFilter(
            status=tuple(status) if status else None, department=department,
            warning=tuple(warning) if warning else None, text=text, as_of=now,
        )  # fmt: skip
        orders = store.list_orders(_url(), where, limit=limit)
    except store.WorkOrderError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    table = Table()
    for col in ("number", "status", "warning", "kind", "department", "citizen", "summary"):
        table.add_column(col)
    for o in orders:
        d = o.to_dict(now=now)
        table.add_row(
            d["number"], d["status"], d.get("warning") or "", d["kind"], d["department"] or "",
            d["citizen_phone"] or d["citizen_name"] or "", d["summary"],
        )  # fmt: skip
    console.print(table)


@app.command("show")
def orders_show(number: str) -> None:
    """One order with its timeline."""
    url = _url()
    try:
        order = store.get(url, number)
    except store.WorkOrderError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for key, value in order.to_dict(now=datetime.now(UTC)).items():
        if value not in (None, "", []):
            console.print(f"[bold]{key}[/bold]: {value}")
    table = Table(title="timeline")
    for col in ("#", "at", "actor", "action", "from → to", "note"):
        table.add_column(col)
    for e in store.timeline(url, order.number):
        table.add_row(
            str(e.seq), e.at.isoformat(timespec="minutes"), e.actor, e.action,
            f"{e.from_status or ''} → {e.to_status or ''}", e.note or "",
        )  # fmt: skip
    console.print(table)


@app.command("scan")
def orders_scan(
    loop: Annotated[float, typer.Option(help="repeat every N seconds (0: once)")] = 0,
) -> None:
    """Record 催办 reminders and overdue escalations (safe with several workers)."""
    url = _url()
    while True:
        recorded = sla.scan(url, datetime.now(UTC))
        console.print(f"{datetime.now(UTC):%H:%M:%S} recorded {len(recorded)} reminders")
        if not loop:
            return
        time.sleep(loop)
