"""Name -> implementation tables for faults, detectors and remediations.

Scenarios refer to them by name, so a later drill (an auth service, Redis) adds its own by
registering, without touching the runner or the scenario format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from rlsguard.errors import RlsguardError

T = TypeVar("T")


class Registry(Generic[T]):
    """Implementations of one kind (``fault``, ``detector``, ``remediation``) by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise RlsguardError(f"{self.kind} {name!r} is registered twice: rename one")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)
