"""Streaming generation: each recording is written as it comes, memory does not grow with size.

The generator renders on threads and writes in plan order with a bounded
lookahead; these tests check that the bytes do not depend on the number of
workers, that the lookahead is bounded, that the incremental ceiling is the
ceiling of the whole corpus, and (in a fresh process) that peak memory stays
far below the corpus' total audio.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from contaffect.synth.generate import (LOOKAHEAD_PER_WORKER, _plan, _render, ceiling, generate,
                                       render_in_order)
from contaffect.synth.presets import get_preset


def digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``; ``report.json`` without its wall time."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.name == "report.json":
            report = json.loads(data)
            report.pop("seconds")
            data = json.dumps(report, sort_keys=True).encode()
        out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


@pytest.mark.parametrize("name, scale", [("semaine_like", 0.1), ("usoms_like", 0.1),
                                         ("natural_like", 0.15)])
def test_one_worker_and_three_give_the_same_bytes(tmp_path, name, scale):
    one = generate(name, tmp_path / "one", scale=scale, seed=5, workers=1, progress=False)
    generate(name, tmp_path / "three", scale=scale, seed=5, workers=3, progress=False)
    assert one["recordings"] > LOOKAHEAD_PER_WORKER * 3     # more than the lookahead
    a, b = digest(tmp_path / "one"), digest(tmp_path / "three")
    assert len(a) > one["recordings"] and a == b


def test_render_in_order_keeps_order_and_bounds_what_is_in_flight():
    workers, lock = 3, threading.Lock()
    state = dict(started=0, consumed=0, most=0)
    rng = np.random.default_rng(0)
    delays = rng.uniform(0, 0.01, 40)

    def fn(i: int, item: dict) -> int:
        with lock:
            state["started"] += 1
            state["most"] = max(state["most"], state["started"] - state["consumed"])
        time.sleep(delays[i])
        return item["x"]

    out = []
    for x in render_in_order(fn, [dict(x=10 * i) for i in range(40)], workers):
        time.sleep(0.002)                                    # a slow consumer (the writer)
        out.append(x)
        with lock:
            state["consumed"] += 1
    assert out == [10 * i for i in range(40)]
    assert state["most"] <= LOOKAHEAD_PER_WORKER * workers


def test_render_in_order_raises_and_stops_waiting_work():
    calls = []

    def fn(i: int, item: dict) -> int:
        calls.append(i)
        if i == 2:
            raise ValueError("bad recording")
        time.sleep(0.01)
        return i

    with pytest.raises(ValueError, match="bad recording"):
        list(render_in_order(fn, [{}] * 50, 2))
    assert len(calls) < 50                                   # not every item was rendered


def test_streamed_ceiling_is_the_ceiling_of_the_whole_corpus(tmp_path):
    preset, seed, scale = get_preset("recola_like"), 2, 0.2
    report = generate(preset, tmp_path / "c", scale=scale, seed=seed, workers=2, progress=False)
    recs = [_render(preset, item, i, seed) for i, item in enumerate(_plan(preset, scale, seed))]
    assert report["ceiling"] == ceiling(preset, recs)


MEMORY_CHILD = r"""
import dataclasses, json, resource, sys, tempfile
from pathlib import Path
from contaffect.synth.generate import generate
from contaffect.synth.presets import get_preset
name, n_speakers, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
base = get_preset(name)
tmp = Path(tempfile.mkdtemp())
warm = dataclasses.replace(base, name="warm_up", n_speakers=3, duration_s=(duration, duration))
generate(warm, tmp / "warm", workers=2, progress=False)     # every lazy import, thread arenas
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
big = dataclasses.replace(base, name="big", n_speakers=n_speakers, duration_s=(duration, duration))
report = generate(big, tmp / "big", workers=2, progress=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(growth=(after - before) * 1024, recordings=report["recordings"],
                      audio=report["hours"] * 3600 * 16000 * 4)))
"""


@pytest.mark.parametrize("name, n_speakers, duration", [("recola_like", 80, 12.0),
                                                        ("natural_like", 12, 3.0)])
def test_peak_memory_does_not_grow_with_the_corpus(name, n_speakers, duration):
    """A corpus of 80 (192) recordings: peak RSS grows by far less than its float32 audio.

    Holding every recording (the generator before streaming) grew it by more
    than the audio itself (85 MiB for 73 MiB of audio); streaming by about
    16 MiB, whatever the number of recordings (thread arenas, one render's
    temporaries).
    """
    res = subprocess.run([sys.executable, "-c", MEMORY_CHILD, name, str(n_speakers),
                          str(duration)], capture_output=True, text=True, check=True)
    m = json.loads(res.stdout.strip().splitlines()[-1])
    largest = duration * 16000 * 4
    assert m["audio"] >= 20 * largest
    assert m["growth"] < 0.5 * m["audio"], m
