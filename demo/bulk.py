"""Fast bulk writes of generated rows: sqlite3's executemany, PostgreSQL's COPY.

SQLAlchemy's executemany runs every value through the column types (about 10,000 rows/s here);
the drivers' own bulk paths take plain tuples, prepared here the way the column types would
store them: UTC datetimes (naive ISO text with microseconds on SQLite, as SQLAlchemy writes
them, so that text comparisons in queries stay right) and JSON as text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Engine

Row = dict[str, Any]


def _sqlite_value(value: Any, is_json: bool) -> Any:
    if is_json:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _pg_value(value: Any, is_json: bool) -> Any:
    return json.dumps(value, ensure_ascii=False) if is_json else value


def write(engine: Engine, table: Table, rows: Sequence[Row]) -> None:
    """Insert `rows` (dicts with every column named by the first row) in one transaction."""
    if not rows:
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    json_cols = [isinstance(c.type, JSON) for c in columns]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" * len(names))
            cur.executemany(
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
                [tuple(_sqlite_value(r[n], j) for n, j in zip(names, json_cols, strict=True))
                 for r in rows],
            )  # fmt: skip
        else:
            with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(
                        [_pg_value(r[n], j) for n, j in zip(names, json_cols, strict=True)]
                    )
        raw.commit()
    finally:
        raw.close()
