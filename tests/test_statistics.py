"""McNemar's exact test and the speaker-bootstrap interval of UAR (contaffect.metrics)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from contaffect.metrics import bootstrap_uar, mcnemar, uar


def _pair(b: int, c: int, both: int = 5):
    """Predictions with b utterances only A gets right and c only B gets right."""
    y = ["x"] * (b + c + both)
    a = ["x"] * b + ["y"] * c + ["x"] * both
    bb = ["y"] * b + ["x"] * c + ["x"] * both
    return y, a, bb


@pytest.mark.parametrize("b,c", [(10, 2), (3, 3), (0, 7), (25, 11)])
def test_mcnemar_exact_binomial(b, c):
    y, a, bb = _pair(b, c)
    r = mcnemar(y, a, bb)
    n = b + c
    expected = min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n)
    assert (r.b, r.c, r.n) == (b, c, n + 5)
    assert r.p == pytest.approx(expected, rel=1e-9)
    assert mcnemar(y, bb, a).p == pytest.approx(r.p)          # symmetric


def test_mcnemar_edge_cases():
    y = ["a", "b", "a", "b"]
    assert mcnemar(y, y, y).p == 1.0
    y, a, bb = _pair(30, 3)
    assert mcnemar(y, a, bb).p < 0.001
    with pytest.raises(ValueError, match="lengths differ"):
        mcnemar(["a"], ["a", "b"], ["a"])


def _speakers(n_spk, per=20, acc=0.7, seed=0):
    rng = np.random.default_rng(seed)
    y, p, g = [], [], []
    for s in range(n_spk):
        a = np.clip(acc + 0.15 * rng.standard_normal(), 0, 1)
        for k in range(per):
            t = ("lo", "hi")[k % 2]
            y.append(t)
            p.append(t if rng.random() < a else ("hi" if t == "lo" else "lo"))
            g.append(f"s{s}")
    return y, p, g


def test_bootstrap_is_seeded_and_contains_the_estimate():
    y, p, g = _speakers(20)
    a = bootstrap_uar(y, p, g, seed=1)
    assert a == bootstrap_uar(y, p, g, seed=1)
    assert a != bootstrap_uar(y, p, g, seed=2)
    assert a[0] <= uar(y, p) <= a[1]
    inner = bootstrap_uar(y, p, g, level=0.5, seed=1)
    assert a[0] <= inner[0] <= inner[1] <= a[1]


def test_more_speakers_narrow_the_interval():
    small = bootstrap_uar(*_speakers(8), n_boot=2000)
    big = bootstrap_uar(*_speakers(80), n_boot=2000)
    assert big[1] - big[0] < 0.6 * (small[1] - small[0])


def test_speakers_not_utterances_are_resampled():
    # half the speakers always right, half always wrong: utterances are far from independent
    y, p, g = [], [], []
    for s in range(10):
        for k in range(30):
            t = ("lo", "hi")[k % 2]
            y.append(t)
            p.append(t if s % 2 == 0 else ("hi" if t == "lo" else "lo"))
            g.append(f"s{s}")
    lo, hi = bootstrap_uar(y, p, g, n_boot=2000)
    rng = np.random.default_rng(0)
    y_, p_ = np.array(y), np.array(p)
    naive = []
    for _ in range(2000):                                   # utterance-level bootstrap
        i = rng.integers(0, len(y), len(y))
        naive.append(uar(y_[i].tolist(), p_[i].tolist()))
    nlo, nhi = np.quantile(naive, [0.025, 0.975])
    assert hi - lo > 2.5 * (nhi - nlo)


def test_one_speaker_collapses_and_bad_input():
    y, p, g = _speakers(1)
    lo, hi = bootstrap_uar(y, p, g)
    assert lo == pytest.approx(hi) == pytest.approx(uar(y, p))
    with pytest.raises(ValueError, match="lengths differ"):
        bootstrap_uar(["a"], ["a"], ["s", "t"])
    with pytest.raises(ValueError, match="level"):
        bootstrap_uar(y, p, g, level=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_uar(y, p, g, n_boot=0)


if __name__ == "__main__":  # pragma: no cover - a timing for the benchmark notes, not a test
    y, p, g = _speakers(30, per=67)
    t = time.perf_counter()
    bootstrap_uar(y, p, g, n_boot=1000)
    print(f"bootstrap_uar, {len(y)} utterances, 30 speakers, 1000 resamples: "
          f"{time.perf_counter() - t:.3f} s")
