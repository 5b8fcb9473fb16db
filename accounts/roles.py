"""The four roles of centre staff and what each may do with work orders."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # manages accounts; may do everything an operator does
    OPERATOR = "operator"  # 坐席: takes calls, files, dispatches, closes and reviews orders
    DEPARTMENT = "department"  # staff of one handling department: its own orders only
    MANAGER = "manager"  # reads every order and the reports, changes nothing


ROLE_LABELS = {
    Role.ADMIN: "管理员",
    Role.OPERATOR: "坐席",
    Role.DEPARTMENT: "部门人员",
    Role.MANAGER: "管理人员",
}

# Roles that may see every order; a department user sees its own department's only.
READ_ALL = frozenset({Role.ADMIN, Role.OPERATOR, Role.MANAGER})
# Roles that may change orders (create, act on them); a department user only its own orders.
CHANGE = frozenset({Role.ADMIN, Role.OPERATOR, Role.DEPARTMENT})
# Roles that handle orders and so may see a citizen's contact data unmasked (each reveal is
# audited); a manager reads the masked view.
REVEAL = CHANGE
ALL = frozenset(Role)
