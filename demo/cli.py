"""`hotline demo seed --months 6 --orders N`: a realistic generated history to look at."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from demo.seed import NotEmpty, seed
from hotline import db
from hotline.settings import get_settings

app = typer.Typer(help="Demo data (示例数据).", no_args_is_help=True)


@app.command("seed")
def seed_command(
    months: Annotated[int, typer.Option(min=1, max=36, help="history length")] = 6,
    orders: Annotated[int, typer.Option(min=1, max=5_000_000, help="how many orders")] = 5000,
    database_url: Annotated[str | None, typer.Option(help="default: HOTLINE_DATABASE_URL")] = None,
    seed_value: Annotated[int, typer.Option("--seed", help="random seed")] = 12345,
) -> None:
    """Fill an empty database with orders (full life cycles) and conversations."""
    url = database_url or get_settings().database_url
    db.upgrade(url)
    try:
        with Progress() as progress:
            task = progress.add_task("生成示例工单", total=orders)
            done = seed(
                url,
                months=months,
                orders=orders,
                seed_value=seed_value,
                progress=lambda n: progress.advance(task, n),
            )
    except NotEmpty as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{done.orders} orders, {done.events} timeline entries, {done.links} repeat links, "
        f"{done.turns} conversation turns"
    )
