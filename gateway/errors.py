"""Readable 422 errors: one sentence per problem, naming the field."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
