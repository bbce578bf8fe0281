"""Stage timing: nested stages are charged their own time only."""

from __future__ import annotations

import time

from contaffect.experiment import timing


def test_nested_stages_are_exclusive():
    timing.reset()
    with timing.stage("outer"):
        time.sleep(0.05)
        with timing.stage("inner"):
            time.sleep(0.1)
    t = timing.totals()
    assert 0.09 <= t["inner"] < 0.5
    assert 0.04 <= t["outer"] < 0.09          # the inner 0.1 s is not charged twice
    timing.reset()
    assert timing.totals() == {}
