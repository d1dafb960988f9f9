"""The auto model as a river anomaly detector, for tuners who evaluate models with river.

The model itself is :class:`detectors.auto_scorer.AutoScorer` (pure, its state a JSON list);
this class only speaks river's protocol: ``learn_one(x)`` / ``score_one(x)`` on a dict of
features, parameters stored as same-named attributes (so ``clone``, ``repr`` and
``_get_params`` work), and it passes river's estimator checks (``tests/test_auto_scorer.py``).
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Iterator
from typing import Any, TypeGuard

from river import base

from detectors.auto_scorer import AutoScorer


class AutoAnomalyDetector(base.AnomalyDetector):
    """Online anomaly detector of one series: Sunlight's ``auto`` model, for river.

    It finds the series' cadence and seasonality (none, daily, weekly) itself, follows level
    shifts, and scores each value by its surprise against the series' own record of surprises:
    a score in [0, 1), 0.5 meaning "as surprising as the most surprising value of recent
    memory". See ``detectors/auto_scorer.py`` for the model.

    Parameters
    ----------
    feature
        The feature holding the series' value. None: the first numeric feature by name.
    time
        The feature holding the time (seconds since the epoch, or a `datetime`). None: no time,
        so no seasonality is learned.
    alpha
        Learning rate of the level.
    gamma
        Learning rate of the seasonal offsets.
    tau
        Learning rate of the scale.
    clip
        Residuals are clipped at this many scales before they are learned.
    season_gain
        A season is used while it lowers the mean squared error by this share.
    memory
        Half-life, in values, of the surprise record that calibrates the score.
    memory_share
        ... or this share of the values seen so far, when longer.
    min_surprise
        The record is never below this many standard deviations.
    slow_rate
        Learning rate of the slow level (the long time scale).
    slow_memory
        Half-life, in values, of the record that calibrates the distance from the slow level.
    warmup
        Values learned before the first non-zero score.
    range_share
        A value beyond the range seen so far by this share of the range scores 0.5.
    level_rate
        Learning rate of the short-run level whose new extremes are surprising.
    level_share
        A short-run level beyond its range so far by this share of the range scores 0.5.
    level_warmup
        Values before the short-run level's range counts.
    rest
        After a score of at least `rest_level`, this many values score 0 (0: never rest).
    rest_level
        The score that starts a rest.
    rest_share
        ... or this share of the values seen, when longer, up to `rest_max` values.
    rest_max
        The longest rest.
    tail_ref
        Where the point surprise's tail is heavier than this (mean log-excess of |z| over 2),
        a value beyond its record needs a wider margin (0: off).
    tail_power
        How fast that margin widens with the tail.

    Examples
    --------

    >>> import math
    >>> from detectors.river_auto import AutoAnomalyDetector

    >>> detector = AutoAnomalyDetector(feature="load")
    >>> for i in range(500):
    ...     detector.learn_one({"load": 10 + math.sin(i / 5)})

    >>> detector.score_one({"load": 10.5}) < 0.5
    True
    >>> detector.score_one({"load": 30.0}) > 0.5
    True

    """

    def __init__(self, feature: str | None = None, time: str | None = None,
                 alpha: float = 0.1, gamma: float = 0.2, tau: float = 0.01, clip: float = 4.0,
                 season_gain: float = 0.1, memory: float = 1000.0, memory_share: float = 0.125,
                 min_surprise: float = 4.0,
                 slow_rate: float = 0.001, slow_memory: float = 10000.0, warmup: int = 64,
                 range_share: float = 0.005, level_rate: float = 0.05,
                 level_share: float = 0.02, level_warmup: int = 200, rest: int = 50,
                 rest_level: float = 0.55, rest_share: float = 0.02, rest_max: int = 400,
                 tail_ref: float = 0.3, tail_power: float = 2.0) -> None:
        self.feature = feature
        self.time = time
        self.alpha = alpha
        self.gamma = gamma
        self.tau = tau
        self.clip = clip
        self.season_gain = season_gain
        self.memory = memory
        self.memory_share = memory_share
        self.min_surprise = min_surprise
        self.slow_rate = slow_rate
        self.slow_memory = slow_memory
        self.warmup = warmup
        self.range_share = range_share
        self.level_rate = level_rate
        self.level_share = level_share
        self.level_warmup = level_warmup
        self.rest = rest
        self.rest_level = rest_level
        self.rest_share = rest_share
        self.rest_max = rest_max
        self.tail_ref = tail_ref
        self.tail_power = tail_power
        self._model = AutoScorer(alpha=alpha, gamma=gamma, tau=tau, clip=clip,
                                 season_gain=season_gain, memory=memory,
                                 memory_share=memory_share,
                                 min_surprise=min_surprise, slow_rate=slow_rate,
                                 slow_memory=slow_memory, warmup=warmup,
                                 range_share=range_share, level_rate=level_rate,
                                 level_share=level_share, level_warmup=level_warmup,
                                 rest=rest, rest_level=rest_level, rest_share=rest_share,
                                 rest_max=rest_max, tail_ref=tail_ref, tail_power=tail_power)
        self._state: list[Any] = self._model.new_state()

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"memory": 200.0, "min_surprise": 3.0}

    def _value(self, x: dict) -> float | None:
        if self.feature is not None:
            value = x.get(self.feature)
        else:
            value = next((x[k] for k in sorted(x, key=str) if _is_number(x[k])), None)
        return float(value) if _is_number(value) else None

    def _time(self, x: dict) -> float | None:
        if self.time is None:
            return None
        moment = x.get(self.time)
        if isinstance(moment, dt.datetime):
            return moment.timestamp()
        return float(moment) if _is_number(moment) else None

    def learn_one(self, x: dict) -> None:
        value = self._value(x)
        if value is None:  # the feature is missing: nothing to learn
            return
        self._model.update(self._state, self._time(x), value)

    def score_one(self, x: dict) -> float:
        value = self._value(x)
        if value is None:
            return 0.0
        return self._model.score(self._state, self._time(x), value)


def _is_number(value: Any) -> TypeGuard[float]:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and value == value and abs(value) != float("inf"))
