"""Users: add, list, disable, reset a password, authenticate. No account exists until an admin
(or `hotline users add` on the server) creates it, and none has a default password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from accounts import passwords
from accounts.model import AuthToken, User
from accounts.roles import Role
from hotline.db import session_scope
from workorders.config import default_config

_NAME = re.compile(r"^[\w.@-]{2,64}$")


class AccountError(ValueError):
    """A request about accounts that cannot be done (the message is Chinese, for staff)."""


@dataclass(frozen=True)
class Principal:
    """A signed-in user as every check sees it."""

    id: int
    name: str
    role: Role
    department: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "department": self.department}


@dataclass(frozen=True)
class UserView:
    name: str
    role: Role
    department: str | None
    active: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "department": self.department,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.name, Role(user.role), user.department)


def _view(user: User) -> UserView:
    return UserView(user.name, Role(user.role), user.department, user.active, user.created_at)


def check_role(role: str, department: str | None) -> tuple[Role, str | None]:
    """The role and department of a new account: a department user names exactly one
    department of the catalogue (workorders' configuration); other roles name none."""
    try:
        checked = Role(role)
    except ValueError:
        raise AccountError(f"未知角色：{role}（可选 {', '.join(r.value for r in Role)}）") from None
    if checked is Role.DEPARTMENT:
        if not department:
            raise AccountError("部门人员须用 --department 指定所属部门")
        if department not in default_config().all_departments:
            raise AccountError(f"部门目录中没有「{department}」")
        return checked, department
    if department:
        raise AccountError("只有部门人员（department 角色）才绑定部门")
    return checked, None


def add_user(
    url: str, name: str, role: str, password: str, department: str | None = None
) -> UserView:
    if not _NAME.match(name):
        raise AccountError("账号名须为2–64个字母、数字、汉字或 . _ - @")
    checked, dept = check_role(role, department)
    try:
        passwords.check_policy(password, name)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    now = datetime.now(UTC)
    with session_scope(url) as s:
        if s.scalars(select(User.id).where(User.name == name)).first() is not None:
            raise AccountError(f"账号「{name}」已存在")
        user = User(name=name, role=checked.value, department=dept, active=True,
                    password_hash=passwords.hash_password(password), created_at=now,
                    password_changed_at=now)  # fmt: skip
        s.add(user)
        s.flush()
        return _view(user)


def list_users(url: str) -> list[UserView]:
    with session_scope(url) as s:
        return [_view(u) for u in s.scalars(select(User).order_by(User.name))]


def _user(s: Any, name: str) -> User:
    user = s.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise AccountError(f"没有账号「{name}」")
    return user


def set_active(url: str, name: str, active: bool) -> UserView:
    """Disable (or enable again) an account; disabling ends its tokens and sessions at once."""
    with session_scope(url) as s:
        user = _user(s, name)
        user.active = active
        if not active:
            s.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
        return _view(user)


def reset_password(url: str, name: str, password: str) -> UserView:
    """A new password; every token and session of the account ends."""
    try:
        passwords.check_policy(password, name)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    with session_scope(url) as s:
        user = _user(s, name)
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = datetime.now(UTC)
        s.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
        return _view(user)


def authenticate(url: str, name: str, password: str) -> Principal | None:
    """The active user with this name and password, else None (same work either way)."""
    with session_scope(url) as s:
        user = s.scalars(select(User).where(User.name == name)).first()
        ok = passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or not user.active:
            return None
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        return principal_of(user)


def find(url: str, name: str) -> Principal | None:
    """The active account of this name (no password check: for tools and tests)."""
    with session_scope(url) as s:
        user = s.scalars(select(User).where(User.name == name, User.active)).first()
        return principal_of(user) if user else None


def count_admins(url: str) -> int:
    with session_scope(url) as s:
        found = s.scalars(select(User.id).where(User.role == Role.ADMIN.value, User.active))
        return len(found.all())
