"""Account tables (schema owned by migration 0006): users, tokens and sessions, sign-in
failures and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base
from workorders.model import UTCDateTime

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the sign-in name
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64))  # role department only
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthToken(Base):
    """A bearer token or a browser session. Only the SHA-256 of the secret is stored, so a
    leaked table grants nothing; deleting the row (or disabling the user) revokes it."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # bearer | session
    csrf: Mapped[str | None] = mapped_column(String(64))  # sessions: the form token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInFailure(Base):
    """One failed sign-in, counted per account name and per client address (across replicas)."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(8))  # name | address
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what to what, and when: every change and every reveal of personal fields."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))  # user name, or cli:<os user>
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # e.g. order.reveal, order.sign, user.add
    target: Mapped[str | None] = mapped_column(String(64))  # order number, user name
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str | None] = mapped_column(String(64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "detail": self.detail or {},
            "address": self.address,
        }
