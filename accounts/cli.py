"""`hotline users add|list|disable|enable|reset-password` and `hotline users audit`.

Passwords are read from a hidden prompt (typed twice) or, with --password-stdin, from the first
line of standard input (for scripts); never from an argument, which would land in shell history
and the process list. There is no default password and no account until one is added.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from accounts import audit, users
from accounts.roles import ROLE_LABELS
from hotline import db
from hotline.settings import get_settings

app = typer.Typer(help="Staff accounts: admin, operator (坐席), department, manager.",
                  no_args_is_help=True)  # fmt: skip


def _url() -> str:
    url = get_settings().database_url
    db.upgrade(url)  # idempotent: the accounts tables exist before the first account
    return url


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True))


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="sign-in name")],
    role: Annotated[str, typer.Option(help="admin | operator | department | manager")],
    department: Annotated[
        str | None, typer.Option(help="the department (role department only)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    if_absent: Annotated[
        bool, typer.Option("--if-absent", help="do nothing when the account exists")
    ] = False,
) -> None:
    """Add an account; the password is asked for (never a default)."""
    url = _url()
    if if_absent and any(u.name == name for u in users.list_users(url)):
        typer.echo(f"account {name} exists")
        return
    try:
        users.check_role(role, department)  # before asking for a password
        view = users.add_user(url, name, role, _password(password_stdin), department)
    except users.AccountError as exc:
        raise _fail(exc) from exc
    audit.record(url, _actor(), "user.add", view.name,
                 detail={"role": view.role.value, "department": view.department})  # fmt: skip
    typer.echo(f"added {view.name} ({view.role.value} {ROLE_LABELS[view.role]})")


@app.command("list")
def list_accounts() -> None:
    """Every account with its role, department and state."""
    for u in users.list_users(_url()):
        state = "active" if u.active else "disabled"
        typer.echo(f"{u.name}\t{u.role.value}\t{u.department or '-'}\t{state}")


def _set_active(name: str, active: bool) -> None:
    url = _url()
    try:
        users.set_active(url, name, active)
    except users.AccountError as exc:
        raise _fail(exc) from exc
    audit.record(url, _actor(), "user.enable" if active else "user.disable", name)
    typer.echo(f"{name} {'enabled' if active else 'disabled'}")


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="sign-in name")]) -> None:
    """Disable an account: its tokens and sessions stop working at once."""
    _set_active(name, False)


@app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="sign-in name")]) -> None:
    """Enable a disabled account again."""
    _set_active(name, True)


@app.command("reset-password")
def reset_password(
    name: Annotated[str, typer.Argument(help="sign-in name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Set a new password; the account's tokens and sessions end."""
    url = _url()
    try:
        users.reset_password(url, name, _password(password_stdin))
    except users.AccountError as exc:
        raise _fail(exc) from exc
    audit.record(url, _actor(), "user.reset_password", name)
    typer.echo(f"password of {name} reset")


@app.command("audit")
def show_audit(
    target: Annotated[str | None, typer.Option(help="an order number or account name")] = None,
    actor: Annotated[str | None, typer.Option(help="who acted")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """The audit log, newest first: when, who (role), what, on what."""
    for e in audit.entries(_url(), target=target, actor=actor, limit=limit):
        typer.echo(f"{e['at']}\t{e['actor']}\t{e['role'] or '-'}\t{e['action']}\t"
                   f"{e['target'] or '-'}\t{e['detail']}")  # fmt: skip
