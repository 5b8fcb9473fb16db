"""Password hashing with Argon2id (argon2-cffi), parameters fixed here and checked by tests.

The parameters are RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes): a guess costs
an attacker 64 MiB of memory, and a sign-in costs the app about 0.1 s of one core. Hashes made
with other parameters still verify and are re-hashed at the next successful sign-in.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LEN = 32
SALT_LEN = 16
MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; this bounds the work one request can cause

# Each hash holds 64 MiB while it runs: at most this many at once per process, so a burst of
# sign-ins (or an attacker's) queues instead of exhausting memory.
CONCURRENT_HASHES = 4
_SLOTS = threading.BoundedSemaphore(CONCURRENT_HASHES)

HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LEN,
    salt_len=SALT_LEN,
    type=Type.ID,
)
# Verified against when the account does not exist, so a wrong name takes as long as a wrong
# password and sign-in timing does not tell which names exist.
_DUMMY = HASHER.hash("no such account / 无此账号")


class WeakPassword(ValueError):
    """A new password that the policy refuses (the message is Chinese, for staff)."""


def check_policy(password: str, name: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码至少{MIN_LENGTH}个字符")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密码最多{MAX_LENGTH}个字符")
    if name and name.lower() in password.lower():
        raise WeakPassword("密码不能包含账号名")
    if len(set(password)) < 4:
        raise WeakPassword("密码过于简单")


def hash_password(password: str) -> str:
    with _SLOTS:
        return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored` (None: no such account, checked against a dummy)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        with _SLOTS:
            return HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)
