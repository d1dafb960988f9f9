"""What a scenario is: a named maker of one case, or one near miss, of a detector."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from stream.simulator.world import Emit

if TYPE_CHECKING:
    from stream.simulator.world import World

__all__ = ["Emit", "Maker", "Scenario"]


Maker = Callable[["World", random.Random, str, datetime], list[Emit]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """``case`` and ``near_miss`` get the world, a seeded rng, a unique suffix for ids, and the
    event time the case starts at; they return the records of one case or near miss."""

    name: str
    case: Maker
    near_miss: Maker
    #: Event time from a case's start until its finding is judged (its last record, plus any
    #: allowed lateness): the simulator starts a case only if the feed runs on that long.
    span_days: float = 0.0
