"""What every embedded store shares: the database, the clock, and JSON for dataclasses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar

from creator_chat.adapters.embedded.database import Database
from creator_chat.ports import Clock

T = TypeVar("T")


class EmbeddedStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())


def to_json(value: Any) -> str:
    """A dataclass (or mapping) as compact JSON; enums by value. Nested dataclasses are
    read field by field as the encoder meets them (``asdict`` deep-copies every value first,
    which measured as a sixth of a cached chat's time)."""
    return json.dumps(value, separators=(",", ":"), default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_json(cls: type[T], text: str | bytes, **overrides: Any) -> T:
    """Build ``cls`` from stored JSON, ignoring fields it no longer has."""
    data: Mapping[str, Any] = json.loads(text)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in data.items() if k in names}
    kwargs.update(overrides)
    return cls(**kwargs)
