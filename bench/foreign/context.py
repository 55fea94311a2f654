"""Run-wide context: the window, id minting, the record builder and the prompt corpora."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prompts import Corpora
from records import Builder


@dataclass
class Ctx:
    """Window ``[start, start + days*86400)`` in UTC epoch seconds, plus shared helpers."""

    start: float
    days: int
    rng: random.Random
    corpora: Corpora
    #: Multiplier of every account's daily request volume (``--volume``); accounts unchanged.
    volume: float = 1.0
    b: Builder = field(init=False)
    _ids: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.b = Builder(random.Random(self.rng.getrandbits(64)))

    def new_id(self, prefix: str) -> str:
        """A fresh opaque id like 'org_3f9a0c1d' (never reused within a run)."""
        while True:
            v = f"{prefix}_{self.rng.getrandbits(40):010x}"
            if v not in self._ids:
                self._ids.add(v)
                return v

    def new_account_id(self) -> str:
        """Account ids carry no information about the archetype."""
        return self.new_id("acc")

    def is_weekend(self, day0: float) -> bool:
        """Whether the UTC day starting at ``day0`` is a Saturday or Sunday."""
        return datetime.fromtimestamp(day0 + 43200, UTC).weekday() >= 5

    def n(self, rng: random.Random, lam: float) -> int:
        """A day's count of requests (or sessions, bursts, runs) with mean ``lam`` x volume."""
        from pools import poisson
        return poisson(rng, lam * self.volume)

    @property
    def end(self) -> float:
        return self.start + self.days * 86400.0
