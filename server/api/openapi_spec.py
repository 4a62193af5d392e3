"""`@documented(...)`: the OpenAPI entry of a route, written next to its handler.

    @routes.post("/api/thing")
    @documented("Make a thing", answer=Thing, body=ThingBody, errors=(400, 409), tag="things")
    async def make_thing(request): ...

`answer` and `body` are pydantic models or type expressions (``list[Thing]``, ``A | B``); the
document generator (openapi_doc.py) turns them into JSON schemas. Non-JSON answers pass
`content={"text/html": {...}}` instead. A route without `@documented` fails tests/api/test_openapi.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
HTML = {"text/html": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Param:
    """A query or path parameter; `type` is a Python type expression (constraints via Annotated)."""

    name: str
    type: Any
    description: str
    where: Literal["query", "path"] = "query"
    default: Any = None


@dataclass(frozen=True)
class Operation:
    """What the document says about one route."""

    summary: str
    answer: Any = None
    status: int = 200
    body: Any = None
    body_required: bool = True
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    tag: str = "api"
    content: dict[str, Any] | None = None
    description: str = ""
    example: Any = None                       # request body example (README's curl body where there is one)
    answer_example: Any = None                # a sample answer for the docs page
    extra: dict[str, Any] = field(default_factory=dict)


def documented(summary: str, **details: Any) -> Callable[[F], F]:
    """Attach an Operation to a handler (see the module docstring)."""
    operation = Operation(summary, **{k: tuple(v) if k in ("errors", "params") else v for k, v in details.items()})

    def mark(handler: F) -> F:
        handler.__openapi__ = operation  # type: ignore[attr-defined]
        return handler

    return mark


def operation_of(handler: Any) -> Operation | None:
    """The Operation a handler was documented with, if any."""
    return getattr(handler, "__openapi__", None)
