"""503 when the database cannot be reached (restarted, unreachable, out of connections).

Every route reads or writes the database; when it is away the request fails fast (the engine's
connect and pool timeouts, hotline/db.py) with 503, a clear message and Retry-After, never a
500 and never a hang. The pool's pre-ping replaces connections that died with the old server,
so the retry succeeds once the database is back.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "系统暂时繁忙，请稍后重试。"  # what a citizen's page shows


def unreachable(exc: DBAPIError) -> bool:
    """The database is away (not a bad statement, which stays a 500 bug)."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """For DBAPIError (the driver's errors) and the pool's TimeoutError (every connection busy
    while the database hangs)."""
    if isinstance(exc, PoolTimeout):
        why = "no free connection in the pool"
    elif isinstance(exc, DBAPIError) and unreachable(exc):
        # The driver's first line only: SQLAlchemy's text would add the statement's parameters.
        why = str(exc.orig).strip().splitlines()[0][:160] if exc.orig else type(exc).__name__
    else:
        raise exc
    log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, why)
    body = {"detail": f"database unavailable, retry in {RETRY_AFTER_SECONDS} s",
            "message": MESSAGE}  # fmt: skip
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
