"""The general model (``--model auto``), its river face, ``sunlight score --model/--plot`` and
the NAB scoring of ``bench/nab.py``."""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import struct
import sys
from pathlib import Path

import orjson
import pytest

from detectors.auto_scorer import AutoScorer, AutoScorerParameterError
from detectors.river_auto import AutoAnomalyDetector
from stream.backtest.score import main as score_main

ROOT = Path(__file__).resolve().parent.parent
FIVE_MINUTES = 300.0
DAY = 86_400.0
START = 1_700_006_400.0  # a Wednesday, 00:00 UTC


def run(model: AutoScorer, state: list, times: list[float], values: list[float]) -> list[float]:
    return [model.update(state, t, v) for t, v in zip(times, values, strict=True)]


def daily_wave(days: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Five-minute rows: a square-ish day (busy 08:00-18:00) with noise."""
    times, values = [], []
    for i in range(days * 288):
        t = START + i * FIVE_MINUTES
        hour = (t % DAY) / 3600
        times.append(t)
        values.append((80.0 if 8 <= hour < 18 else 20.0) + rng.gauss(0, 2))
    return times, values


def test_finds_a_daily_season_in_five_minute_data_and_does_not_alert_on_it() -> None:
    rng = random.Random(1)
    times, values = daily_wave(8, rng)
    model = AutoScorer()
    state = model.new_state()
    scores = run(model, state, times, values)
    assert model.seasons(state) == ["daily"]
    assert max(scores[5 * 288:]) < 0.5  # the busy hours are the normal by now
    # The busy level in the middle of the night is an anomaly at that hour.
    night = START + 8 * DAY + 2 * 3600
    assert model.score(state, night, 80.0) > 0.5


def test_finds_a_weekly_season_in_daily_data() -> None:
    rng = random.Random(2)
    model = AutoScorer()
    state = model.new_state()
    times = [START + i * DAY for i in range(120)]
    values = [(30.0 if int(t // DAY) % 7 in (2, 3) else 100.0) * math.exp(rng.gauss(0, 0.03))
              for t in times]
    scores = run(model, state, times, values)
    assert model.seasons(state) == ["weekly"]
    assert max(scores[60:]) < 0.5


def test_noise_without_rhythm_uses_no_season() -> None:
    rng = random.Random(3)
    model = AutoScorer()
    state = model.new_state()
    times = [START + i * 600.0 for i in range(3000)]
    run(model, state, times, [50 + rng.gauss(0, 5) for _ in times])
    assert model.seasons(state) == []


def noisy(n: int, seed: int = 4) -> tuple[AutoScorer, list, list[float]]:
    rng = random.Random(seed)
    model = AutoScorer()
    state = model.new_state()
    times = [START + i * 60.0 for i in range(n)]
    scores = run(model, state, times, [100 + rng.gauss(0, 3) for _ in times])
    return model, state, scores


@pytest.mark.parametrize("value", [130.0, 70.0])  # 10 sigmas above, below
def test_rises_and_falls_both_score(value: float) -> None:
    model, state, scores = noisy(1500)
    assert max(scores[200:]) < 0.5
    assert model.score(state, START + 1500 * 60.0, value) > 0.5


def test_a_level_shift_scores_then_becomes_the_new_normal() -> None:
    model, state, _ = noisy(1500)
    rng = random.Random(5)
    times = [START + (1500 + i) * 60.0 for i in range(400)]
    scores = run(model, state, times, [160 + rng.gauss(0, 3) for _ in times])
    assert scores[0] > 0.5
    assert max(scores[50:]) < 0.5


def test_a_change_of_variance_scores() -> None:
    model, state, _ = noisy(1500)
    rng = random.Random(6)
    times = [START + (1500 + i) * 60.0 for i in range(100)]
    scores = run(model, state, times, [100 + rng.gauss(0, 30) for _ in times])
    assert max(scores[:30]) > 0.5


def spiky(n: int, rng: random.Random) -> list[float]:
    """Noise around 100 (sd 3) with a spike to 130-150 every 97 rows."""
    return [100 + rng.gauss(0, 3) + (rng.uniform(30, 50) if i % 97 == 50 else 0.0)
            for i in range(n)]


@pytest.mark.parametrize("level_share", [0.02, 1e6])  # default; new extremes of the level off
def test_a_sustained_shift_to_a_level_only_spikes_reached_scores(level_share: float) -> None:
    """Spikes teach the model that 130 happens; a stay at 120 has not happened before."""
    rng = random.Random(8)
    model = AutoScorer(level_share=level_share)
    state = model.new_state()
    values = spiky(3030, rng)  # the last spike 70 rows before the end: no rest running
    times = [START + i * 60.0 for i in range(len(values) + 100)]
    run(model, state, times[:3030], values)
    shifted = run(model, state, times[3030:], [120 + rng.gauss(0, 3) for _ in range(100)])
    # No row of the stay is a new extreme nor, once the forecast follows, far from it: the
    # short-run level's new extreme is what scores it.
    assert (max(shifted[:40]) > 0.5) == (level_share == 0.02)


def test_a_long_heavy_tailed_series_raises_its_bar_for_longer() -> None:
    """Student-t(4) noise with no anomaly: the record's half-life growing with the rows seen
    (``memory_share``) makes late alerts rarer than a fixed half-life of 1,000 rows."""
    rng = random.Random(9)
    values = [10 + rng.gauss(0, 1) / math.sqrt(rng.gammavariate(2.0, 0.5)) for _ in range(20000)]
    times = [START + i * 60.0 for i in range(len(values))]
    alerts = {}
    for share in (0.125, 0.0):
        model = AutoScorer(memory_share=share)
        scores = run(model, model.new_state(), times, values)
        alerts[share] = sum(s >= 0.55 for s in scores[10000:])
    assert alerts[0.125] < alerts[0.0] * 0.75, alerts


@pytest.mark.parametrize(("rows", "rest"), [(1000, 50), (10000, 200), (40000, 400)])
def test_the_rest_after_an_anomaly_grows_with_age_but_stays_bounded(rows: int, rest: int) -> None:
    """The rest is ``max(rest, rest_share x rows seen)`` capped at ``rest_max``: measured as
    the rows a second, equal spike stays silent after a first one (state fast-forwarded)."""
    model, state, _ = noisy(300)
    state[0] = rows  # the rows seen (the rest reads only this count)
    t = START + 300 * 60.0
    assert model.update(state, t, 400.0) > 0.55
    silent = 0
    while model.update(state, t + (silent + 1) * 60.0, 100.0) == 0.0 and silent < 1000:
        silent += 1
    assert silent == rest, (silent, rest)


@pytest.mark.parametrize("heavy", [True, False])
def test_heavy_tails_need_a_wider_margin_and_light_tails_do_not(heavy: bool) -> None:
    """A spike beyond the point record, after Student-t(2) noise (which beats its record by
    wide factors by chance), scores less with the tail estimate (``tail_ref``) than without,
    yet still alerts; after normal noise it scores exactly as without. (New extremes of the
    values and of the level are off: the point surprise alone.)"""
    rng = random.Random(10)
    noise = [rng.gauss(0, 1) / (math.sqrt(rng.gammavariate(1.0, 1.0)) if heavy else 1.0)
             for _ in range(3000)]
    times = [START + i * 60.0 for i in range(len(noise) + 1)]
    spike = {}
    for ref in (0.3, 0.0):
        model = AutoScorer(tail_ref=ref, range_share=1e6, level_share=1e6)
        state = model.new_state()
        run(model, state, times[:-1], [10 + e for e in noise])
        spike[ref] = model.score(state, times[-1], 10 + (80.0 if heavy else 8.0))
    assert spike[0.0] > 0.5
    if heavy:
        assert 0.5 < spike[0.3] < spike[0.0] - 0.05, spike
    else:
        assert spike[0.3] == spike[0.0], spike


def test_scores_are_continuous_in_zero_one_and_monotone() -> None:
    model, state, scores = noisy(1500)
    assert all(0.0 <= s < 1.0 for s in scores)
    t = START + 1500 * 60.0
    ladder = [model.score(state, t, 100 + k) for k in (20, 40, 80, 1e6, 1e300)]
    assert ladder == sorted(ladder) and len(set(ladder)) == len(ladder)
    assert ladder[-1] < 1.0


def test_scoring_does_not_learn_and_the_model_is_deterministic() -> None:
    model, state, _ = noisy(500)
    before = copy.deepcopy(state)
    model.score(state, START + 500 * 60.0, 1e6)
    assert state == before
    assert noisy(500)[1] == state


def test_state_is_json_of_at_most_4_kb_and_restores() -> None:
    rng = random.Random(7)
    times, values = daily_wave(8, rng)
    model = AutoScorer()
    state = model.new_state()
    run(model, state, times, values)
    stored = orjson.dumps(AutoScorer.dump(state))
    assert len(stored) <= 4096, len(stored)
    restored = orjson.loads(stored)
    t = times[-1] + FIVE_MINUTES
    assert model.score(restored, t, 200.0) == pytest.approx(model.score(state, t, 200.0),
                                                            rel=1e-3)


def test_bad_values_and_parameters_are_refused() -> None:
    model = AutoScorer()
    with pytest.raises(ValueError, match="finite"):
        model.update(model.new_state(), START, math.nan)
    with pytest.raises(AutoScorerParameterError, match="no parameter 'speed'"):
        AutoScorer(speed=1)
    with pytest.raises(AutoScorerParameterError, match="alpha"):
        AutoScorer(alpha=2.0)


# -- river ------------------------------------------------------------------------------------
def labelled_stream(n: int, seed: int = 8) -> list[tuple[dict, bool]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        anomaly = i > 100 and rng.random() < 0.02
        value = 50 + 10 * math.sin(i / 10) + rng.gauss(0, 1) + (40 if anomaly else 0)
        out.append(({"value": value, "noise": rng.random()}, anomaly))
    return out


def test_passes_rivers_own_estimator_checks() -> None:
    """Every check river's ``yield_checks`` gives an anomaly detector, as river wrote it. The
    dataset checks get a local labelled stream instead of river's CreditCard set (which river
    downloads; tests fetch nothing)."""
    from river import checks

    model = AutoAnomalyDetector()
    ran = set()
    for check in checks.yield_checks(model):
        fresh = model.clone()
        if isinstance(check, functools.partial) and "dataset" in check.keywords:
            longer = check.func.__name__ == "check_bounded_memory_growth"
            check.func(fresh, dataset=labelled_stream(6000 if longer else 600))
        else:
            check(fresh)
        ran.add(check.__name__)
    assert {"check_roc_auc", "check_predict_one_pure", "check_pickling",
            "check_shuffle_features_no_impact", "check_bounded_memory_growth",
            "check_repr_roundtrips_clone"} <= ran
    assert len(ran) >= 25


def test_river_detector_scores_a_named_feature_with_its_time() -> None:
    detector = AutoAnomalyDetector(feature="load", time="t")
    rng = random.Random(9)
    for i in range(1000):
        detector.learn_one({"load": 10 + rng.gauss(0, 1), "t": START + i * 60})
    assert detector.score_one({"load": 10.5, "t": START + 1000 * 60}) < 0.5
    assert detector.score_one({"load": 40.0, "t": START + 1000 * 60}) > 0.5
    assert detector.score_one({"other": 1.0}) == 0.0  # the feature is missing


# -- sunlight score --model / --plot --------------------------------------------------------
def write_series(path: Path, n: int = 600, spike_at: int = 500) -> None:
    rng = random.Random(10)
    lines = ["timestamp,value"]
    for i in range(n):
        minute = f"2026-03-{1 + i // 288:02d}T{(i % 288) * 5 // 60:02d}:{(i * 5) % 60:02d}:00Z"
        lines.append(f"{minute},{300.0 if i == spike_at else 100 + rng.gauss(0, 3):.3f}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("model", ["auto", "ewz", "river:anomaly.HalfSpaceTrees",
                                   "river:anomaly.GaussianScorer"])
def test_score_model_writes_one_score_per_row(tmp_path: Path, model: str) -> None:
    write_series(tmp_path / "in.csv")
    assert score_main(["--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                       "--model", model, "--alerts"]) == 0
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0] == "timestamp,value,score,alert" and len(rows) == 601
    scores = [float(r.split(",")[2]) for r in rows[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    if model == "auto":
        assert scores[500] == max(scores) and scores[500] > 0.5
        assert rows[501].endswith(",1")


def test_score_refuses_unknown_models(tmp_path: Path) -> None:
    write_series(tmp_path / "in.csv", n=10)
    for spec, message in [("magic", "unknown model"), ("river:anomaly.Nope", "no river model"),
                          ("river:linear_model.LinearRegression", "not an anomaly detector"),
                          ("auto:speed=2", "unknown parameter")]:
        with pytest.raises(SystemExit, match=message):
            score_main(["--in", str(tmp_path / "in.csv"), "--model", spec])


@pytest.mark.parametrize("line, message", [("nope,3", "'nope' is not a date"),
                                           ("2026-03-02,inf", "'inf' is not finite"),
                                           ("2026-03-02,nan", "'nan' is not finite"),
                                           ("2026-03-02,x", "'x' is not a number")])
def test_score_model_refuses_bad_rows_with_their_line(tmp_path: Path, line: str,
                                                      message: str) -> None:
    (tmp_path / "in.csv").write_text(f"timestamp,value\n2026-03-01,1\n{line}\n")
    with pytest.raises(SystemExit, match=f"line 3: .*{message}"):
        score_main(["--in", str(tmp_path / "in.csv"), "--model", "auto"])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_png_of_the_asked_size_with_labelled_windows(tmp_path: Path) -> None:
    write_series(tmp_path / "in.csv")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"some/in.csv": [["2026-03-02T17:00:00", "2026-03-02T19:00:00"]]}))
    assert score_main(["--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                       "--model", "auto", "--plot", str(tmp_path / "p.png"), "--labels",
                       str(labels), "--plot-size", "900x500"]) == 0
    assert png_size(tmp_path / "p.png") == (900, 500)
    assert (tmp_path / "p.png").stat().st_size > 10_000  # something was drawn


def test_plot_of_a_live_detectors_scorer(tmp_path: Path) -> None:
    rows = [f"2026-03-{d:02d},{900 if d == 30 else 200 + d % 3}" for d in range(1, 31)]
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    assert score_main(["--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                       "--detectors-file", "", "--param", "warmup=14", "--param", "min_obs=10",
                       "--plot", str(tmp_path / "p.png")]) == 0
    assert png_size(tmp_path / "p.png") == (1200, 700)


# -- NAB's scoring, by hand ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def nab():
    sys.path.insert(0, str(ROOT / "bench"))
    import nab as module

    return module


def one_series(nab, n: int = 100, windows=((40, 49),)):
    stamps = [f"2026-01-01 {i // 60:02d}:{i % 60:02d}:00" for i in range(n)]
    return nab.Series("x/one.csv", stamps, [0.0] * n, list(windows))


def test_nab_a_detection_at_the_left_edge_is_perfect(nab) -> None:
    series = one_series(nab)
    scores = [0.0] * 100
    scores[40] = 0.9
    result = nab.normalised([series], [scores])
    assert result["standard"][0] == pytest.approx(100.0)
    assert result["standard"][1] == 0.9


def test_nab_false_positives_and_late_detections_cost_as_documented(nab) -> None:
    series = one_series(nab)
    scores = [0.0] * 100
    scores[20] = 0.9  # before any window (after the 15-row probation): costs A_fp
    scores[45] = 0.9  # mid-window: worth S(-(49-45+1)/10) / S(-1)
    top = 2 / (1 + math.exp(-5)) - 1
    worth = (2 / (1 + math.exp(5 * -0.5)) - 1) / top
    raw, threshold = nab.corpus_score([series], [scores], "standard")
    assert threshold == 0.9
    assert raw == pytest.approx(worth - 0.11)
    raw_fp, _ = nab.corpus_score([series], [scores], "reward_low_FP_rate")
    assert raw_fp == pytest.approx(worth - 0.22)
    # Nothing detected beats it when detecting costs more: the optimiser detects nothing.
    scores[10] = 0.95  # in the probation: not scored at all
    assert nab.corpus_score([series], [scores], "standard")[0] == pytest.approx(worth - 0.11)


def test_nab_missing_windows_cost_a_fn_and_normalise_to_zero(nab) -> None:
    series = one_series(nab, windows=((40, 49), (70, 79)))
    scores = [0.0] * 100
    scores[20] = 0.9  # a lone false positive: detecting nothing is better
    raw, threshold = nab.corpus_score([series], [scores], "reward_low_FN_rate")
    assert raw == pytest.approx(-4.0) and threshold == math.inf
    assert nab.normalised([series], [scores])["reward_low_FN_rate"][0] == pytest.approx(0.0)
