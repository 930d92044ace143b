"""Realistic, reproducible users: faker with a fixed seed, so failures replay identically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faker import Faker

DEFAULT_SEED = 20261128


@dataclass(frozen=True)
class UserSpec:
    email: str
    user_metadata: dict[str, Any]


class UserFactory:
    """Emails and names that look real, never collide within a run and repeat across runs."""

    def __init__(self, seed: int = DEFAULT_SEED, domain: str = "example.test") -> None:
        self._faker = Faker()
        self._faker.seed_instance(seed)
        self.domain = domain
        self._count = 0

    def next(self, **user_metadata: Any) -> UserSpec:
        self._count += 1
        first, last = self._faker.first_name(), self._faker.last_name()
        email = f"{first}.{last}.{self._count}@{self.domain}".lower()
        metadata = {"full_name": f"{first} {last}", **user_metadata}
        return UserSpec(email=email, user_metadata=metadata)
