"""Readable 422 errors: one sentence per problem, naming the field."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

# Control characters (but tab and newline) carry nothing a citizen meant, break terminals and
# logs, and NUL cannot be stored in PostgreSQL text: they are removed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _not_blank(value: str) -> str:
    if _SURROGATE.search(value):  # a lone "\\ud800" escape in JSON: not text in any encoding
        raise ValueError("contains an invalid character (a lone UTF-16 surrogate)")
    value = _CONTROL.sub("", value).strip()
    if not value:
        raise ValueError("must not be empty or whitespace")
    return value


# What a citizen typed or said: control characters removed, trimmed, never empty (422 naming
# the field otherwise).
CitizenText = Annotated[str, AfterValidator(_not_blank)]

# Row ids are 32-bit integers in PostgreSQL (and 64-bit in SQLite): a larger number in a URL is
# a 422 here rather than an overflow inside the database driver (a 500).
ID_MAX = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=ID_MAX)]


def check_length(name: str, value: str, limit: int) -> None:
    """422 naming the field when a citizen's text is over the configured limit."""
    if len(value) > limit:
        raise HTTPException(422, f"{name} is {len(value)} characters; the limit is {limit}")


def _describe(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return (
            f"request body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
        )
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}"


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [_describe(e) for e in exc.errors()]
    return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)
