"""Readable 422 errors: one sentence per problem, naming the field."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or whitespace")
    return value


# What a citizen typed or said: trimmed, never empty (422 naming the field otherwise).
CitizenText = Annotated[str, AfterValidator(_not_blank)]


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
