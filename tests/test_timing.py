"""Stage timing: nested stages are charged their own time only (with a fake clock)."""

from __future__ import annotations

from contaffect.experiment import timing


def test_nested_stages_are_exclusive(monkeypatch):
    clock = iter([0.0, 5.0, 15.0, 17.0])          # outer in, inner in, inner out, outer out
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    timing.reset()
    with timing.stage("outer"):
        with timing.stage("inner"):
            pass
    assert timing.totals() == {"outer": 7.0, "inner": 10.0}
    timing.reset()
    assert timing.totals() == {}
