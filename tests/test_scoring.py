"""The online scorer: bounded continuous scores, monotone in the spike, robust to rhythm, trend,
level shifts and sparse series, silent in the warm-up, small JSON state, deterministic."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from detectors.scoring import DEFAULTS, Scorer, ScorerParameterError

DAY0 = 739_000  # a date ordinal; DAY0 % 7 == 0 is its weekday index in the season
WEEKLY = (1.0, 1.05, 0.95, 1.0, 1.1, 0.4, 0.3)


def regular(days: int, seed: int = 1, level: float = 200.0, noise: float = 0.08,
            weekly: tuple[float, ...] = WEEKLY) -> list[float]:
    rng = random.Random(seed)
    return [level * weekly[(DAY0 + i) % 7] * rng.lognormvariate(0.0, noise)
            for i in range(days)]


def run(scorer: Scorer, values: list[float], start: int = DAY0) -> tuple[list, list]:
    state = scorer.new_state()
    steps = [scorer.update(state, v, start + i) for i, v in enumerate(values)]
    return state, steps


def alerts(steps: list) -> list[int]:
    return [i for i, s in enumerate(steps) if s.alert]


def test_a_spike_after_a_regular_history_alerts_and_nothing_else_does() -> None:
    values = regular(70)
    values[60] *= 5
    _, steps = run(Scorer(), values)
    assert alerts(steps) == [60]
    assert 0.5 <= steps[60].score < 1.0
    assert steps[60].z > 5


@pytest.mark.parametrize("huge", [1e6, 1e12, 1e100, 1e300, 1.7e308])
def test_score_is_below_one_for_any_finite_value(huge: float) -> None:
    scorer = Scorer()
    state, _ = run(scorer, regular(40))
    step = scorer.score(state, huge, DAY0 + 40)
    assert 0.5 < step.score < 1.0 and math.isfinite(step.score)


def test_score_is_monotone_in_the_spike_for_a_fixed_history() -> None:
    scorer = Scorer()
    state, _ = run(scorer, regular(45))
    frozen = list(state)
    sizes = [0, 1, 10, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 3000, 1e4, 1e6, 1e9, 1e15]
    scores = [scorer.score(state, v, DAY0 + 45).score for v in sizes]
    assert state == frozen  # score() does not learn
    assert all(0.0 <= s < 1.0 for s in scores)
    assert scores == sorted(scores)
    above = [s for s in scores if s > 0]
    assert len(set(above)) == len(above)  # strictly increasing once above the forecast


def test_scores_do_not_tie_at_the_top() -> None:
    scorer = Scorer()
    state, _ = run(scorer, regular(45))
    scores = {scorer.score(state, 10.0 ** k, DAY0 + 45).score for k in range(3, 300, 7)}
    assert len(scores) == len(range(3, 300, 7))
    assert max(scores) < 1.0


def test_half_score_at_z_half() -> None:
    assert Scorer().score_of(DEFAULTS["z_half"]) == pytest.approx(0.5)
    assert Scorer(z_half=3.0).score_of(3.0) == pytest.approx(0.5)
    assert Scorer().score_of(0.0) == 0.0 and Scorer().score_of(-4.0) == 0.0
    assert Scorer().score_of(float("nan")) == 0.0


def test_no_alert_and_zero_score_in_the_warm_up() -> None:
    values = regular(30)
    values[10] *= 20  # a huge spike on day 10: too early to know what normal is
    _, steps = run(Scorer(), values)
    assert all(s.warm and s.score == 0.0 and not s.alert for s in steps[:21])
    assert alerts(steps) == []


def test_warm_up_also_waits_for_enough_non_zero_values() -> None:
    values = [0.0] * 60
    for i in range(0, 60, 6):  # a purchase every 6 days: 10 values by day 60
        values[i] = 200.0
    values[59] = 2000.0
    _, steps = run(Scorer(), values)
    assert steps[59].warm and not steps[59].alert
    _, steps = run(Scorer(min_obs=5), values)
    assert steps[59].alert


def test_weekly_rhythm_is_learned_not_alerted() -> None:
    values = regular(150, weekly=(1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.1), noise=0.1)
    _, steps = run(Scorer(), values)
    assert alerts(steps) == []
    sunday = next(i for i in range(140, 150) if (DAY0 + i) % 7 == 6)
    monday = sunday - 6
    assert steps[sunday].expected == pytest.approx(20.0, rel=0.25)
    assert steps[monday].expected == pytest.approx(200.0, rel=0.25)


def test_weekend_at_weekday_level_is_a_spike_for_that_weekday() -> None:
    values = regular(60, weekly=(1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2), noise=0.05)
    day = next(i for i in range(50, 60) if (DAY0 + i) % 7 == 5)
    values[day] = 200.0  # a Saturday at a weekday's level: 5x a usual Saturday
    _, steps = run(Scorer(), values)
    assert alerts(steps) == [day]


@pytest.mark.parametrize("growth", [0.004, -0.004, 0.002])
def test_slow_trends_do_not_alert(growth: float) -> None:
    """Up to +-0.4%/day (about 12% a month) is slow; a sustained faster rise is a trend change
    the CUSUM reports (next test)."""
    rng = random.Random(3)
    values = [200.0 * math.exp(growth * i) * WEEKLY[(DAY0 + i) % 7] * rng.lognormvariate(0, 0.1)
              for i in range(240)]
    _, steps = run(Scorer(), values)
    assert alerts(steps) == []


def test_a_level_shift_alerts_once_then_becomes_the_new_normal() -> None:
    values = regular(140, noise=0.08)
    for i in range(70, 140):
        values[i] *= 2.5
    scorer = Scorer()
    state, steps = run(scorer, values)
    assert alerts(steps) == [70]
    assert steps[100].expected == pytest.approx(2.5 * 200 * WEEKLY[(DAY0 + 100) % 7], rel=0.2)
    # ... and a spike on top of the new level is still seen
    spike = scorer.score(state, 5 * 2.5 * 200 * WEEKLY[(DAY0 + 140) % 7], DAY0 + 140)
    assert spike.alert


def test_a_trend_change_is_caught_by_the_cusum() -> None:
    rng = random.Random(5)
    values = []
    level = 200.0
    for i in range(120):
        if i >= 60:
            level *= 1.04  # +4%/day from day 60: no single day stands out
        values.append(level * WEEKLY[(DAY0 + i) % 7] * rng.lognormvariate(0, 0.1))
    _, steps = run(Scorer(), values)
    found = alerts(steps)
    assert found and 60 <= found[0] <= 75
    _, no_cusum = run(Scorer(cusum_h=0.0), values)
    assert not [i for i in alerts(no_cusum) if 60 <= i <= 75]


def test_sparse_series_zero_days_are_not_dips_or_spikes() -> None:
    rng = random.Random(9)
    values = [rng.uniform(150, 250) if rng.random() < 0.3 else 0.0 for _ in range(200)]
    _, steps = run(Scorer(), values)
    assert alerts(steps) == []
    assert all(s.score == 0.0 for s, v in zip(steps, values, strict=True) if v == 0.0)
    values[190] = 2000.0  # an order ten times the usual one
    _, steps = run(Scorer(), values)
    assert alerts(steps) == [190]


def test_skipped_steps_are_zeros() -> None:
    scorer = Scorer()
    values = regular(60)
    for i in range(20, 58, 3):
        values[i] = 0.0
    explicit, steps = run(scorer, values)
    gapped = scorer.new_state()
    gap_steps = [scorer.update(gapped, v, DAY0 + i) for i, v in enumerate(values) if v]
    assert gapped[1] == explicit[1]  # steps seen, gaps included
    assert gapped == pytest.approx(explicit, abs=1e-5)
    assert [s.score for s in gap_steps] == pytest.approx(
        [s.score for s, v in zip(steps, values, strict=True) if v], abs=1e-6)


def test_a_long_silence_costs_no_loop_and_keeps_the_model() -> None:
    scorer = Scorer()
    state, _ = run(scorer, regular(40))
    before = list(state)
    scorer.update(state, 0.0, DAY0 + 10_000_000)  # ten million days later
    assert state[3:6] == before[3:6]  # level, trend, scale untouched by zeros
    assert state[6] < 1e-6            # the share of days with a value has decayed


def test_steps_must_move_forward_and_values_be_finite() -> None:
    scorer = Scorer()
    state = scorer.new_state()
    scorer.update(state, 5.0, DAY0)
    with pytest.raises(ValueError, match="not after"):
        scorer.update(state, 5.0, DAY0)
    with pytest.raises(ValueError, match="finite"):
        scorer.update(state, float("inf"), DAY0 + 1)


def test_state_is_small_json_and_restores_exactly() -> None:
    scorer = Scorer()
    values = regular(120, seed=4)
    values[100] *= 6
    state, steps = run(scorer, values[:80])
    size = len(orjson.dumps(state))
    assert size < 200, size
    assert len(state) == 9 + 2 + DEFAULTS["period"]
    restored = orjson.loads(orjson.dumps(state))  # a checkpoint, then a restart
    rest_a = [scorer.update(state, v, DAY0 + 80 + i) for i, v in enumerate(values[80:])]
    rest_b = [scorer.update(restored, v, DAY0 + 80 + i) for i, v in enumerate(values[80:])]
    assert rest_a == rest_b
    assert [i + 80 for i, s in enumerate(rest_a) if s.alert] == [100]


def test_deterministic() -> None:
    values = regular(100, seed=8)
    values[90] *= 4
    assert run(Scorer(), values)[1] == run(Scorer(), values)[1]


def test_cooldown_keeps_a_multi_day_spike_to_one_alert() -> None:
    values = regular(80)
    values[60] *= 5
    values[61] *= 5
    _, steps = run(Scorer(), values)
    assert alerts(steps) == [60]
    _, steps = run(Scorer(cooldown=0), values)
    assert alerts(steps) == [60, 61]


def test_directions() -> None:
    values = regular(80)
    values[60] *= 0.1
    values[70] *= 6
    assert alerts(run(Scorer(), values)[1]) == [70]
    assert alerts(run(Scorer(direction="down"), values)[1]) == [60]
    assert alerts(run(Scorer(direction="both"), values)[1]) == [60, 70]


def test_raw_transform_works_on_additive_data() -> None:
    rng = random.Random(2)
    values = [1000.0 + rng.gauss(0, 20) for _ in range(80)]
    values[70] = 1300.0
    _, steps = run(Scorer(transform="none", period=1, min_sigma=0.001), values)
    assert alerts(steps) == [70]


def test_a_series_warms_up_then_is_exactly_the_online_model() -> None:
    scorer = Scorer()
    values = regular(60, seed=6)
    values[50] *= 5
    series = scorer.start()
    steps = [scorer.judge(series, v, DAY0 + i) for i, v in enumerate(values)]
    assert all(s.warm and s.score == 0.0 for s in steps[:21])
    online_state, online = run(scorer, values)
    assert series["m"] == online_state
    assert [s.alert for s in steps[21:]] == [s.alert for s in online[21:]]
    assert alerts(steps) == [50]
    assert "r" not in series and len(orjson.dumps(series)) < 200  # past ``retain``: the model


def test_late_values_of_the_first_weeks_are_put_in_order() -> None:
    """A backfill read from several partitions arrives shuffled: while a series keeps its
    values, each late one is put in order, and the model is the same as in order."""
    scorer = Scorer()
    values = regular(40, seed=6)
    in_order = scorer.start()
    for i, v in enumerate(values):
        scorer.judge(in_order, v, DAY0 + i)
    order = list(range(40))
    random.Random(2).shuffle(order)
    shuffled = scorer.start()
    for i in order:
        raw = shuffled.get("r")
        if raw is None or raw["j"] is None or DAY0 + i > raw["j"]:
            scorer.judge(shuffled, values[i], DAY0 + i)
        else:
            assert scorer.take_late(shuffled, values[i], DAY0 + i)
    assert shuffled["m"] == in_order["m"]
    for i in range(40, 60):  # past ``retain`` (42 steps) a late value is refused
        scorer.judge(in_order, 200.0, DAY0 + i)
    assert "r" not in in_order and not scorer.take_late(in_order, 100.0, DAY0 + 45)


def test_a_spike_late_in_the_warm_up_does_not_blind_the_model() -> None:
    scorer = Scorer()
    values = regular(40, seed=7)
    values[18] *= 8  # a spike in the third week of the warm-up: clipped, not learned
    series = scorer.start()
    for i, v in enumerate(values[:30]):
        scorer.judge(series, v, DAY0 + i)
    day = DAY0 + 30
    assert scorer.score(series["m"], 4 * 200 * WEEKLY[day % 7], day).alert


@pytest.mark.parametrize("params, message", [
    ({"colour": 1}, "no parameter"),
    ({"z_half": "high"}, "number"),
    ({"warmup": 2.5}, "integer"),
    ({"transform": "sqrt"}, "transform"),
    ({"direction": "sideways"}, "direction"),
    ({"period": 0}, "period"),
])
def test_bad_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ScorerParameterError, match=message):
        Scorer(**params)
