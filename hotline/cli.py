"""The `hotline` command: serve the system and operate its parts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from accounts.cli import app as users_app
from demo.cli import app as demo_app
from hotline import bot, db
from hotline.settings import get_settings
from knowledge.cli import app as kb_app
from reports.cli import app as report_app
from wechat.cli import app as wechat_app
from workorders.cli import app as orders_app
from workorders.router_cli import app as router_app

app = typer.Typer(help="12345 政务服务便民热线 front door.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
bot_app = typer.Typer(help="The Rasa bot.", no_args_is_help=True)
voice_app = typer.Typer(help="Phone calls.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of conversations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bot_app, name="bot")
app.add_typer(voice_app, name="voice")
app.add_typer(retention_app, name="retention")
app.add_typer(kb_app, name="kb")
app.add_typer(orders_app, name="orders")
app.add_typer(router_app, name="router")
app.add_typer(users_app, name="users")
app.add_typer(wechat_app, name="wechat")
app.add_typer(report_app, name="report")
app.add_typer(demo_app, name="demo")


@contextmanager
def _fails_with(*errors: type[Exception]) -> Iterator[None]:
    """An expected failure (a missing tool, a file that is no backup) is one line on stderr and
    exit status 2, not a traceback."""
    try:
        yield
    except errors as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    only: Annotated[
        str, typer.Option(help="start only one part for scale-out: all | app | rasa")
    ] = "all",
) -> None:
    """Start Rasa and the app (setting up model and schema first); Ctrl-C stops both."""
    from hotline.serve import is_part
    from hotline.serve import serve as run

    if not is_part(only):
        raise typer.BadParameter("must be all, app or rasa", param_hint="--only")
    try:
        code = run(get_settings(), only)
    except bot.BotError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 2
    raise typer.Exit(code)


@app.command()
def cluster(
    port: Annotated[int, typer.Option(help="nginx's port (default HOTLINE_PORT)")] = 0,
    replicas: Annotated[int, typer.Option(min=1, max=9, help="app and Rasa replicas")] = 2,
) -> None:
    """Run app and Rasa replicas behind nginx on the configured PostgreSQL and Redis (default
    the local ones); Ctrl-C stops all. Ports: docs/operations.md, "Cluster"."""
    from hotline import cluster as layout

    settings = get_settings()
    try:
        code = layout.run(settings, port or settings.port, replicas)
    except (bot.BotError, layout.ClusterError) as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 2
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the configured database."""
    settings = get_settings()
    db.upgrade(settings.database_url)
    typer.echo(f"schema at {db.current_revision(settings.database_url)}")


@bot_app.command("train")
def bot_train(force: Annotated[bool, typer.Option(help="train even if cached")] = False) -> None:
    """Train the Rasa bot if bot/ or config.yml changed since the last training."""
    with _fails_with(bot.BotError):
        typer.echo(bot.train(get_settings(), force=force))


@bot_app.command("validate")
def bot_validate() -> None:
    """Run `rasa data validate` over the bot's data."""
    result = bot.validate(get_settings())
    sys.stdout.write(result.stdout + result.stderr)
    raise typer.Exit(result.returncode)


@retention_app.command("run")
def retention_run(
    days: Annotated[int | None, typer.Option(min=1, help="default HOTLINE_RETENTION_DAYS")] = None,
) -> None:
    """Anonymise conversations older than the retention period (safe to run again)."""
    from hotline import retention

    settings = get_settings()
    key_secret = settings.retention_key.get_secret_value() if settings.retention_key else None
    key = retention.retention_key(key_secret, settings.var_dir)
    kept = days or settings.retention_days
    changed = retention.anonymise(settings.database_url, kept, key)
    typer.echo(f"{changed} conversation turns older than {kept} days anonymised")


@app.command("backup")
def backup_db(
    out: Annotated[Path, typer.Option(help="the backup file to write")],
) -> None:
    """Copy the whole database to one file (SQLite backup API, or pg_dump for PostgreSQL)."""
    from hotline import backup

    with _fails_with(backup.BackupError):
        backup.backup(get_settings().database_url, out)
    typer.echo(f"backup written to {out}")


@app.command("restore")
def restore_db(
    source: Annotated[Path, typer.Argument(help="a file written by `hotline backup`")],
) -> None:
    """Replace the database's content with a backup (stop the app first)."""
    from hotline import backup

    with _fails_with(backup.BackupError):
        backup.restore(get_settings().database_url, source)
    typer.echo(f"database restored from {source}")


@voice_app.command("audiosocket")
def voice_audiosocket(
    port: Annotated[int, typer.Option(help="default HOTLINE_AUDIOSOCKET_PORT or 9092")] = 0,
    metrics_port: Annotated[
        int,
        typer.Option(help="serve Prometheus /metrics on this port of HOTLINE_AUDIOSOCKET_HOST"),
    ] = 0,
) -> None:
    """Run the Asterisk AudioSocket listener alone (calls use Rasa at HOTLINE_RASA_URL);
    SIGINT/SIGTERM transfer live calls and stop within HOTLINE_SHUTDOWN_SECONDS."""
    import asyncio
    import contextlib

    from gateway.calls_api import serve_audiosocket
    from hotline.logging import configure_logging
    from hotline.shutdown import Stopper

    configure_logging("audiosocket")
    settings = get_settings()
    settings.audiosocket_port = port or settings.audiosocket_port or 9092
    if metrics_port:
        from prometheus_client import start_http_server

        # Unauthenticated, like the PBX's side of the process: bind it to the internal network.
        start_http_server(metrics_port, addr=settings.audiosocket_host)
    stopper = Stopper(settings.shutdown_seconds)
    with contextlib.suppress(KeyboardInterrupt):  # a signal before the loop took over
        asyncio.run(serve_audiosocket(settings, stopper))
    stopper.exit_in_time()


if __name__ == "__main__":
    app()
