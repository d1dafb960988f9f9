"""The general online anomaly model (``sunlight score --model auto``): one configuration for
every series, whatever its cadence, seasonality, scale and noise.

Per series, on each ``(time, value)``, it scores the value against what it has learned, then
learns it:

* **cadence**: the smallest positive gap between the timestamps of its first rows. It decides
  the seasons a series can show: a day of ``min(288, rows a day)`` bins when a day holds at
  least 12 rows, and the 7 days of the week when a week holds at least 7 rows;
* **forecast** ``level + day[bin] + week[weekday]`` (additive Holt-Winters, robust: residuals are
  clipped at ``clip`` scales before they are learned, so a spike does not become the normal).
  **Seasonality is found, not configured**: each season is used only once two of its cycles
  have been seen and while it earns its place, i.e. while the forecast with it has a mean
  squared error at least ``season_gain`` (a share) below the forecast without it; so a series
  uses none, the daily, the weekly season, or both;
* **robust scale**: the mean absolute one-step error (clipped), floored at ``floor`` x the
  series' typical magnitude so that a flat line does not call a rounding wobble an anomaly;
* **two time scales**: the point residual ``|z|`` against the forecast (a spike, a dip, the first
  rows of a level shift or of a wider variance), and the distance from the **slow level** (an
  exponentially weighted mean at rate ``slow_rate`` plus the seasons) in units of its own
  scale (a long excursion or a drift too gradual for any one row to stand out). The slow
  distance's record has its own, long half-life (``slow_memory`` rows): a series that drifts
  back and forth keeps its bar, instead of alerting on each swing once the last one is
  forgotten;
* **calibration (robust tails)**: each surprise ``s`` is compared with the series' own record
  of that surprise, the largest it has shown, decaying with a half-life of ``memory`` rows (or
  ``memory_share`` of the rows seen so far, when longer: an old series has seen its heavy
  tail, so its bar drops more slowly), but never below ``min_surprise``; the ratio ``u`` is
  the larger of the two. The score is
  ``v / (1 + v)`` with ``v = log2(1 + u)^2``: 0.5 means "as surprising as the most surprising
  row of recent memory" (and at least ``min_surprise`` standard deviations off); a noisy or
  spiky series raises its own bar, a quiet one keeps it at ``min_surprise``. Continuous,
  strictly below 1.0, the same meaning in every series;
* **heavy tails**: the point surprise's tail is measured online, as the mean of
  ``log(|z| / tail_from)`` over the rows beyond ``tail_from`` (Hill's estimator of 1 / the tail
  index, learned at rate ``tail_rate``: one number, no window). Where it is heavier than
  ``tail_ref`` (a little heavier than a normal tail), a point or slow surprise beyond its
  record counts for less (``u ** ((tail_ref / tail) ** tail_power)``, which keeps it continuous
  and monotone): a Twitter volume or a bursty disk counter beats its record by a wide factor
  without anything having changed, and its real anomalies show in the other features too;
* **new extremes** (what NAB's HTM detector calls a spatial anomaly): the range of values seen
  so far (running min and max, never a file's global range, which a stream cannot know). A value
  beyond it by ``d`` has the surprise ``d / (range_share * range)``, calibrated like the others
  (so a value beyond the range by ``range_share`` of it scores 0.5): a series rarely sets a new
  record by much, and when it does something has changed;
* **new extremes of the recent level**: the same for the short-run level (an exponentially
  weighted mean of the values at rate ``level_rate``, about 20 rows) against the range that
  level has covered since row ``level_warmup``, in units of ``level_share`` of that range (but
  never finer than that level's standard deviation in plain noise, so that noise alone does not
  set alerting records). A
  sustained shift to a level that only single spikes reached before (a service that moves to a
  higher load and stays) stands out here though no row is a new extreme and no row is far
  from its forecast once the forecast follows;
* **rest**: after a score of at least ``rest_level``, the next ``rest`` rows score 0 (a row at
  ``rest_level`` or above meanwhile extends the rest), as CAD OSE does in NAB: an anomaly is
  reported once, at its start, and its next rows are not new alerts. An old series rests longer,
  ``rest_share`` of the rows seen, but never more than ``rest_max`` rows (a live stream's rest
  stays bounded);
* **new normal**: the level follows at rate ``alpha``, so a level shift scores high on its first
  rows and stops scoring once adopted; the record it set keeps its echoes quiet.

The state is a flat list of numbers (29 plus one per daily bin: at most 317), JSON-ready;
:meth:`AutoScorer.dump` rounds it to 6 significant digits for storage (at most ~3 KB).

>>> model = AutoScorer()
>>> state = model.new_state()
>>> scores = [model.update(state, 300.0 * i, 10.0 + (i % 3)) for i in range(2000)]
>>> max(scores[200:]) < 0.5                          # regular noise: never alerting
True
>>> spike = model.score(state, 300.0 * 2000, 40.0)   # scored, not learned
>>> 0.5 < spike < 1.0
True
>>> model.score(state, 300.0 * 2000, 80.0) > spike    # monotone in the size of the spike
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors.clock import DAY, WEEK

#: Every parameter with its default: one configuration for every series.
DEFAULTS: dict[str, Any] = {
    #: Learning rate of the level (per row).
    "alpha": 0.1,
    #: Learning rate of a seasonal offset (per visit of its bin).
    "gamma": 0.2,
    #: Learning rate of the scale and of the seasons' error bookkeeping.
    "tau": 0.01,
    #: Residuals are clipped at this many scales before they are learned.
    "clip": 4.0,
    #: Seasons learn from residuals clipped at this many times ``clip``.
    "season_clip": 4.0,
    #: A season is used while it lowers the mean squared error by this share.
    "season_gain": 0.1,
    #: Half-life, in rows, of the surprise record that calibrates the score.
    "memory": 1000.0,
    #: ... or this share of the rows seen so far, when longer.
    "memory_share": 0.125,
    #: The record is never below this many standard deviations.
    "min_surprise": 4.0,
    #: Rows before the first non-zero score.
    "warmup": 64,
    #: The scale is at least this share of the series' typical magnitude.
    "floor": 1e-3,
    #: Learning rate of the slow level and its scale (the long time scale).
    "slow_rate": 0.001,
    #: Half-life, in rows, of the slow distance's record (a drift's bar is kept long).
    "slow_memory": 10000.0,
    #: Which side is surprising: "both", "up" (only values above the forecasts: spikes,
    #: rises) or "down".
    "direction": "both",
    #: At most this many bins in a day (288: five minutes).
    "max_bins": 288,
    #: A value beyond the range seen so far by this share of the range scores 0.5.
    "range_share": 0.005,
    #: Learning rate of the short-run level whose new extremes are surprising.
    "level_rate": 0.05,
    #: A short-run level beyond its range so far by this share of it scores 0.5.
    "level_share": 0.02,
    #: Rows before the short-run level's range counts (it is learned meanwhile).
    "level_warmup": 200,
    #: After a score of at least ``rest_level``, this many rows score 0 (an anomaly is
    #: reported once, at its start; its next rows are part of it). 0: never rest.
    "rest": 50,
    "rest_level": 0.55,
    #: ... or this share of the rows seen so far, when longer, up to ``rest_max`` rows.
    "rest_share": 0.02,
    "rest_max": 400,
    #: Heavy tails: the mean log-excess of |z| over ``tail_from`` (1 / the tail index, Hill's
    #: estimator with a fixed threshold), learned at rate ``tail_rate``. Where it is above
    #: ``tail_ref`` a point or slow surprise beyond its record counts for less: ``u`` becomes
    #: ``u ** ((tail_ref / tail) ** tail_power)``. 0: off.
    "tail_ref": 0.3,
    "tail_from": 2.0,
    "tail_rate": 0.01,
    "tail_power": 2.0,
}

# State layout: a flat list, the daily bins (if any) at the end.
(_N, _T, _DT, _BINS, _X, _LEVEL, _SCALE, _MAG, _REF, _SLOW, _SLOW_SCALE, _SLOW_REF, _ED0, _ED1,
 _ED2, _LOW, _HIGH, _REST, _RECENT, _RECENT_LOW, _RECENT_HIGH, _TAIL) = range(22)
_WEEKS = 22  # 7 weekday offsets
_HEAD = _WEEKS + 7  # then the daily bins
_SIGMA_PER_MAD = math.sqrt(math.pi / 2)
_LN2 = math.log(2.0)


class AutoScorerParameterError(ValueError):
    pass


class AutoScorer:
    """The model's parameters; a series' state is a plain list (:meth:`new_state`), changed in
    place by :meth:`update`."""

    defaults: Mapping[str, Any] = DEFAULTS

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise AutoScorerParameterError(
                f"auto model has no parameter {unknown[0]!r} (it has: {', '.join(DEFAULTS)})")
        p = {**DEFAULTS, **params}
        if p["direction"] not in ("both", "up", "down"):
            raise AutoScorerParameterError(
                "auto model parameter 'direction' must be 'both', 'up' or 'down'")
        self.sign = {"both": 0.0, "up": 1.0, "down": -1.0}[p.pop("direction")]
        for name, value in p.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise AutoScorerParameterError(
                    f"auto model parameter {name!r} must be a number >= 0, got {value!r}")
        if not (0 < p["alpha"] <= 1 and 0 < p["gamma"] <= 1 and 0 < p["tau"] <= 1):
            raise AutoScorerParameterError("auto model needs alpha, gamma, tau in (0, 1]")
        if not 0 < p["slow_rate"] <= 1:
            raise AutoScorerParameterError("auto model needs slow_rate in (0, 1]")
        if not 0 < p["level_rate"] <= 1:
            raise AutoScorerParameterError("auto model needs level_rate in (0, 1]")
        if not 0 < p["tail_rate"] <= 1:
            raise AutoScorerParameterError("auto model needs tail_rate in (0, 1]")
        positive = ("memory", "slow_memory", "min_surprise", "clip", "range_share", "level_share",
                    "tail_from")
        if any(p[name] <= 0 for name in positive):
            raise AutoScorerParameterError(f"auto model needs {', '.join(positive)} > 0")
        self.params = {**p, "direction": params.get("direction", DEFAULTS["direction"])}
        self.alpha, self.gamma, self.tau, self.clip = p["alpha"], p["gamma"], p["tau"], p["clip"]
        self.keep = 1.0 - p["season_gain"]
        self.season_clip = p["season_clip"]
        self.memory, self.memory_share = p["memory"], p["memory_share"]
        self.decay = 0.5 ** (1.0 / p["memory"])
        self.slow_decay = 0.5 ** (1.0 / p["slow_memory"])
        self.min_surprise = p["min_surprise"]
        self.warmup, self.floor = int(p["warmup"]), p["floor"]
        self.slow_rate = p["slow_rate"]
        self.max_bins = int(p["max_bins"])
        self.range_share = p["range_share"]
        self.level_rate, self.level_share = p["level_rate"], p["level_share"]
        self.level_warmup = int(p["level_warmup"])
        # The standard deviation of the short-run level in plain noise, in noise scales.
        self.level_noise = math.sqrt(self.level_rate / (2.0 - self.level_rate))
        self.rest, self.rest_level = int(p["rest"]), p["rest_level"]
        self.rest_share, self.rest_max = p["rest_share"], int(p["rest_max"])
        self.tail_ref, self.tail_from = p["tail_ref"], p["tail_from"]
        self.tail_rate, self.tail_power = p["tail_rate"], p["tail_power"]

    def new_state(self) -> list[Any]:
        """A series with no history."""
        return [0, None, 0.0, 0] + [0.0] * (_HEAD - 4)

    @staticmethod
    def dump(state: list[Any]) -> list[Any]:
        """The state rounded to 6 significant digits: what to store (``orjson.dumps``)."""
        return [v if isinstance(v, int) or v is None else float(f"{v:.6g}") for v in state]

    def seasons(self, state: list[Any]) -> list[str]:
        """The seasons the series uses now: [], ["daily"], ["weekly"] or both."""
        ed0, ed1, ed2 = state[_ED0], state[_ED1], state[_ED2]
        dt, n = state[_DT], state[_N]
        daily = bool(state[_BINS]) and n * dt >= 2 * DAY and ed1 < self.keep * ed0
        weekly = (0 < dt * 7 <= WEEK and n * dt >= 2 * WEEK
                  and ed2 < self.keep * (ed1 if daily else ed0))
        return ["daily"] * daily + ["weekly"] * weekly

    def _margin(self, ratio: float, tail: float) -> float:
        """A surprise's ratio to its record, shrunk where the tail is heavier than tail_ref."""
        if ratio > 1.0 and tail > self.tail_ref > 0.0:
            # A heavy tail beats its own record by a wide factor more often (Pareto:
            # P(beyond c x record) ~ c^-index): such a series needs a wider margin.
            return float(ratio ** ((self.tail_ref / tail) ** self.tail_power))
        return ratio

    def score(self, state: list[Any], t: float | None, value: float) -> float:
        """The score of ``value`` at time ``t`` without learning it (``state`` untouched)."""
        return self.update(list(state), t, value)

    def update(self, state: list[Any], t: float | None, value: float) -> float:
        """Score ``value`` observed at ``t`` (seconds since the epoch; None: unknown, then no
        season is learned), then learn it. Rows must come in time order."""
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"value must be finite, got {value!r}")
        n = state[_N]
        if t is not None:
            last_t = state[_T]
            if last_t is not None and n < 32 and t > last_t:
                gap = t - last_t
                state[_DT] = gap if state[_DT] == 0.0 else min(state[_DT], gap)
            state[_T] = t
        state[_N] = n = n + 1
        if n == 1:
            state[_X] = state[_LEVEL] = state[_SLOW] = state[_LOW] = state[_HIGH] = x
            state[_RECENT] = state[_RECENT_LOW] = state[_RECENT_HIGH] = x
            state[_MAG] = abs(x)
            return 0.0
        bins = state[_BINS]
        dt = state[_DT]
        if n == 32 and not bins and dt and DAY / dt >= 12:
            bins = state[_BINS] = min(self.max_bins, round(DAY / dt))
            state.extend([0.0] * bins)
        weekly = t is not None and 0 < dt * 7 <= WEEK
        level = state[_LEVEL]
        e0 = x - level
        if bins and t is not None:
            b = _HEAD + int((t % DAY) / DAY * bins)
            s_day = state[b] if n * dt >= 2 * DAY else 0.0
        else:
            b, s_day = 0, 0.0
        if weekly:
            wd = _WEEKS + int(t // DAY) % 7  # type: ignore[operator]
            s_week = state[wd] if n * dt >= 2 * WEEK else 0.0
        else:
            wd, s_week = 0, 0.0
        e1 = e0 - s_day
        e2 = e1 - s_week
        ed0, ed1, ed2 = state[_ED0], state[_ED1], state[_ED2]
        use_day = s_day != 0.0 and ed1 < self.keep * ed0
        use_week = s_week != 0.0 and ed2 < self.keep * (ed1 if use_day else ed0)
        e = e0 - (s_day if use_day else 0.0) - (s_week if use_week else 0.0)
        mag = state[_MAG]
        scale = max(_SIGMA_PER_MAD * state[_SCALE], self.floor * mag, 1e-12)
        clip = self.clip
        z = e / scale
        zc = z if -clip < z < clip else (clip if z > 0 else -clip)
        # Two time scales, each surprise against its own record (decayed, floored).
        warm = n > 16
        surprise = abs(z) if not self.sign else max(0.0, self.sign * z)
        record = state[_REF]
        ratio = surprise / max(record, self.min_surprise)
        tail = state[_TAIL]
        if self.tail_ref and warm:
            ratio = self._margin(ratio, tail)
            if abs(z) > self.tail_from:
                tail = tail or self.tail_ref
                state[_TAIL] = tail + self.tail_rate * (math.log(abs(z) / self.tail_from) - tail)
        decay = self.decay if n * self.memory_share <= self.memory else 0.5 ** (
            1.0 / (n * self.memory_share))
        state[_REF] = max(record * decay, surprise) if warm else 0.0
        slow = state[_SLOW]
        d = x - slow - (s_day if use_day else 0.0) - (s_week if use_week else 0.0)
        slow_scale = max(_SIGMA_PER_MAD * state[_SLOW_SCALE], self.floor * mag, 1e-12)
        far = (abs(d) if not self.sign else max(0.0, self.sign * d)) / slow_scale
        record = state[_SLOW_REF]
        ratio = max(ratio, self._margin(far / max(record, self.min_surprise), tail))
        state[_SLOW_REF] = max(record * self.slow_decay, far) if warm else 0.0
        low, high = state[_LOW], state[_HIGH]
        if high > low:
            beyond = x - high if self.sign > 0 else low - x if self.sign < 0 else max(
                x - high, low - x)
            if beyond > 0:
                # In units of range_share of the range, but never finer than the one-step
                # scale: a noisy series sets small new records by chance.
                ratio = max(ratio, beyond / max(self.range_share * (high - low), scale))
        state[_LOW], state[_HIGH] = min(low, x), max(high, x)
        # The short-run level against the range it has covered (after its own warm-up).
        recent = state[_RECENT] = state[_RECENT] + max(self.level_rate, 1.0 / n) * (
            x - state[_RECENT])
        low, high = state[_RECENT_LOW], state[_RECENT_HIGH]
        if n > self.level_warmup and high > low:
            beyond = recent - high if self.sign > 0 else low - recent if self.sign < 0 else max(
                recent - high, low - recent)
            if beyond > 0:
                # Never finer than the level's own wobble in plain noise: noise alone sets
                # small new records of a running mean.
                unit = max(self.level_share * (high - low), scale * self.level_noise)
                ratio = max(ratio, beyond / unit)
        state[_RECENT_LOW], state[_RECENT_HIGH] = min(low, recent), max(high, recent)
        a = max(self.slow_rate, 1.0 / n)
        state[_SLOW] = slow + a * d
        state[_SLOW_SCALE] += a * (min(abs(d), 4 * clip * slow_scale) - state[_SLOW_SCALE])
        if n <= self.warmup:
            score = 0.0
        else:
            # v = 1 when the surprise equals the record; log1p keeps any finite value < 1.0.
            v = math.log1p(ratio) / _LN2
            v *= v
            score = v / (1.0 + v)
            # Resting: an anomaly's later rows (raw scores at rest_level or above extend it).
            resting = state[_REST] > 0
            if score >= self.rest_level:
                state[_REST] = max(self.rest, min(self.rest_max, int(self.rest_share * n)))
            else:
                state[_REST] = max(0, state[_REST] - 1)
            if resting:
                score = 0.0
        # Learn: level, seasons (each from the residual the others leave), scale.
        ec = zc * scale
        state[_LEVEL] = level + max(self.alpha, 1.0 / n) * ec
        g = self.gamma
        cap = clip * scale
        # Seasons learn from wider residuals: a season's first visits are large surprises.
        scap = cap * self.season_clip
        if b:
            r = e0 - (s_week if use_week else 0.0)
            state[b] += g * ((r if -scap < r < scap else (scap if r > 0 else -scap)) - state[b])
        if wd:
            r = e0 - (s_day if use_day else 0.0)
            state[wd] += g * ((r if -scap < r < scap else (scap if r > 0 else -scap)) - state[wd])
        tau = max(self.tau, 1.0 / n)
        state[_SCALE] += tau * (min(abs(e), cap) - state[_SCALE])
        state[_MAG] += tau * (abs(x) - mag)
        cap2 = cap * cap
        state[_ED0] = ed0 + tau * (min(e0 * e0, cap2) - ed0)
        state[_ED1] = ed1 + tau * (min(e1 * e1, cap2) - ed1)
        state[_ED2] = ed2 + tau * (min(e2 * e2, cap2) - ed2)
        state[_X] = x
        return score
