"""Every error the API answers has one shape: JSON with `message`, one line for people and
logs. `detail` is there too, as FastAPI clients expect it: the same line, or for a 422 the
problem of each field (a NaN, a number out of range, an unknown preset)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from engine.errors import TierplayError


def unprocessable(location: Sequence[str | int], message: str) -> RequestValidationError:
    """A 422 for what only the engine can judge (a position past the end of the track)."""
    return RequestValidationError([{"loc": tuple(location), "msg": message, "type": "value_error"}])


def field_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors without the echoed input (it can be large, or not JSON at all)."""
    return [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in e["loc"]],
            "msg": str(e["msg"]).removeprefix("Value error, "),
            "type": str(e["type"]),
        }
        for e in errors
    ]


def one_line(problems: list[dict[str, Any]]) -> str:
    """`body.preset: Input should be ...; query.chunk_idx: ...` for people and logs."""
    parts = []
    for problem in problems:
        where = ".".join(str(part) for part in problem["loc"])
        parts.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "; ".join(parts)


async def validation_failed(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = field_problems(error.errors())
    return JSONResponse({"message": one_line(problems), "detail": problems}, status_code=422)


async def http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse(
        problem_body(str(error.detail)), status_code=error.status_code, headers=error.headers
    )


async def engine_refused(_request: Request, error: Exception) -> JSONResponse:
    """An engine error raised on purpose is the client's mistake, in one line."""
    return JSONResponse(problem_body(str(error)), status_code=400)


def problem_body(message: str) -> dict[str, str]:
    """The body of every error but a 422's."""
    return {"message": message, "detail": message}


HANDLERS: dict[type[Exception], Any] = {
    RequestValidationError: validation_failed,
    HTTPException: http_error,
    TierplayError: engine_refused,
}
