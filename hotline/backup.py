"""`hotline backup` / `hotline restore`: a consistent copy of the database in one file.

SQLite: the sqlite3 online backup API (safe while the app writes). PostgreSQL: pg_dump in its
custom format and pg_restore --clean (the PostgreSQL client tools must be installed; the
versions must be at least the server's). A restore replaces everything: stop the app first.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from hotline.db import engine_for


class BackupError(Exception):
    pass


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def _libpq_url(url: str) -> str:
    """The URL as pg_dump takes it: postgresql://… without SQLAlchemy's driver name."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BackupError(f"no backup method for {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return found


def _copy_sqlite(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    except sqlite3.DatabaseError as exc:  # e.g. the source is not a SQLite file
        raise BackupError(f"{source}: {exc}") from exc
    finally:
        dst.close()
        src.close()


def backup(url: str, out: Path) -> None:
    """Write the whole database to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if (path := _sqlite_path(url)) is not None:
        if not path.exists():
            raise BackupError(f"no database at {path}")
        out.unlink(missing_ok=True)
        _copy_sqlite(path, out)
        return
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={out}", _libpq_url(url)])


def restore(url: str, source: Path) -> None:
    """Replace the database's content with the backup in `source`."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    engine_for(url).dispose()  # no pooled connection keeps the old content
    if (path := _sqlite_path(url)) is not None:
        _copy_sqlite(source, path)
        return
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={_libpq_url(url)}", str(source)])  # fmt: skip


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # The URL (with any password) is in the command: only the tool's own message is shown.
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")
