"""The knowledge base in the database: imports replace a file's entries; a version counter lets
every running app (and replica) notice a re-import and rebuild its index without a restart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope
from knowledge.loaders import LoadResult
from knowledge.schema import Entry


class KbEntry(Base):
    __tablename__ = "kb_entries"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    origin: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(80))
    content: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KbState(Base):
    __tablename__ = "kb_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # ids already owned by another file

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def import_results(database_url: str, results: list[LoadResult]) -> ImportReport:
    """Store what the loaders read. Each file is the unit: its entries are added or updated, and
    entries it held before but no longer lists are removed. A file that failed to load entirely
    keeps its previous entries (a broken export must not empty the knowledge base)."""
    report = ImportReport()
    now = datetime.now(UTC)
    with session_scope(database_url) as session:
        for result in results:
            report.problems += [str(p) for p in result.problems]
            if not result.entries:
                continue
            existing = {
                row.id: row
                for row in session.scalars(select(KbEntry).where(KbEntry.origin == result.origin))
            }
            for entry in result.entries:
                digest = entry.content_hash()
                row = existing.pop(entry.id, None) or session.get(KbEntry, entry.id)
                if row is not None and row.origin != result.origin:
                    report.conflicts.append(f"{result.origin}: id {entry.id} is in {row.origin}")
                    continue
                if row is None:
                    session.add(_row(entry, result.origin, digest, now))
                    report.added += 1
                elif row.content_hash != digest:
                    row.content, row.content_hash = entry.model_dump(mode="json"), digest
                    row.kind, row.domain, row.updated_at = entry.kind, entry.domain, now
                    report.updated += 1
                else:
                    report.unchanged += 1
            if existing:
                session.execute(delete(KbEntry).where(KbEntry.id.in_(list(existing))))
                report.removed += len(existing)
        if report.changed:
            session.execute(
                update(KbState).where(KbState.key == "version").values(value=KbState.value + 1)
            )
    return report


def _row(entry: Entry, origin: str, digest: str, now: datetime) -> KbEntry:
    return KbEntry(
        id=entry.id,
        origin=origin,
        kind=entry.kind,
        domain=entry.domain,
        content=entry.model_dump(mode="json"),
        content_hash=digest,
        updated_at=now,
    )


def version(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.scalar(select(KbState.value).where(KbState.key == "version")) or 0


def all_entries(database_url: str) -> list[Entry]:
    with session_scope(database_url) as session:
        rows = session.scalars(select(KbEntry.content).order_by(KbEntry.id))
        return [Entry.model_validate(content) for content in rows]


def count_entries(database_url: str) -> int:
    with session_scope(database_url) as session:
        return len(session.scalars(select(KbEntry.id)).all())
