"""Helpers shared by the repository modules."""

from __future__ import annotations

from datetime import datetime, timezone

from server.store.errors import InvalidValue


def utcnow() -> datetime:
    """Aware current UTC time."""
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime:
    """``value`` (must be aware) or now, in UTC."""
    if value is None:
        return utcnow()
    if value.tzinfo is None:
        raise InvalidValue("timestamps must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc)


def check_choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    """Refuse a value outside ``allowed`` before the database CHECK would."""
    if value not in allowed:
        raise InvalidValue(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def seconds_between(start: datetime, end: datetime) -> float:
    """Non-negative duration in seconds (clock steps backwards clamp to 0)."""
    return max(0.0, (end - start).total_seconds())
