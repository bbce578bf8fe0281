"""The torch thread policy: available cores, other processes' load, and no effect on numbers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from contaffect import threads as th


def test_cgroup_quota_v2_v1_and_none(tmp_path):
    v2 = tmp_path / "cpu.max"
    v1 = (tmp_path / "quota", tmp_path / "period")
    v2.write_text("150000 100000\n")
    assert th.cgroup_quota(v2, v1) == 1.5
    v2.write_text("max 100000\n")
    assert th.cgroup_quota(v2, v1) is None
    v2.unlink()
    v1[0].write_text("50000\n")
    v1[1].write_text("100000\n")
    assert th.cgroup_quota(v2, v1) == 0.5
    v1[0].write_text("-1\n")
    assert th.cgroup_quota(v2, v1) is None


def test_available_cores_is_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(th, "affinity_cores", lambda: 8)
    monkeypatch.setattr(th, "cgroup_quota", lambda: 2.0)
    assert th.available_cores() == 2.0
    monkeypatch.setattr(th, "cgroup_quota", lambda: None)
    assert th.available_cores() == 8.0
    monkeypatch.setattr(th, "cgroup_quota", lambda: 0.3)     # a fraction of a core: still one
    assert th.available_cores() == 1.0


@pytest.mark.parametrize("cores,others,expected", [
    (2, 0.0, 2), (2, 1.0, 1), (2, 0.3, 2), (2, 0.6, 1), (2, 5.0, 1), (8, 2.2, 6), (4, None, 4)])
def test_choose_threads(cores, others, expected):
    assert th.choose_threads(others, cores) == expected


@pytest.mark.skipif(not th.PROC_STAT.is_file(), reason="no /proc/stat on this system")
def test_busy_meter_sees_a_competing_process():
    spin = subprocess.Popen([sys.executable, "-c",
                             "import time\nt = time.time()\nwhile time.time() - t < 3: pass"])
    try:
        time.sleep(0.5)                          # let it start spinning
        meter = th.BusyMeter().start()
        time.sleep(1.0)
        others = meter.read()
    finally:
        spin.kill()
        spin.wait()
    # one process spinning keeps about one core busy (more if the machine is loaded otherwise)
    assert others is not None and others > 0.6


def test_the_meter_does_not_count_this_process(monkeypatch):
    """A machine where only this process is busy shows no other load, however busy it is."""
    base = th._machine_busy_seconds() or 0.0
    start_own = th._own_seconds()
    # the machine's busy time is exactly this process' CPU time since the start
    monkeypatch.setattr(th, "_machine_busy_seconds",
                        lambda stat=None: base + th._own_seconds() - start_own)
    meter = th.BusyMeter().start()
    t = time.process_time()
    while time.process_time() - t < 0.3:         # this process busy for 0.3 s of CPU
        pass
    others = meter.read()
    assert others is not None and others < 0.05
    # ... and a second busy core elsewhere is seen as one
    monkeypatch.setattr(th, "_machine_busy_seconds",
                        lambda stat=None: base + th._own_seconds() - start_own
                        + (time.monotonic() - t0))
    t0 = time.monotonic()
    meter = th.BusyMeter().start()
    time.sleep(0.2)
    assert 0.9 < meter.read() < 1.1


def test_fixed_counts_stay_and_the_policy_records_them():
    import torch

    before = torch.get_num_threads()
    try:
        policy = th.ThreadPolicy(1).start()
        assert torch.get_num_threads() == 1
        assert policy.update() == 1 and policy.history == [1, 1]
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError):
        th.ThreadPolicy(-1)


def test_the_thread_count_changes_only_the_last_bits():
    """Why ``load`` (re-chosen counts) is not the default: the numbers move, a little."""
    import torch

    from contaffect.models import ModelConfig, SequenceSet, TrainConfig
    from contaffect.models.train import train

    rng = np.random.default_rng(1)
    feats = {f"r{i}": rng.standard_normal((400, 20)).astype(np.float32) for i in range(3)}
    ys = {k: rng.standard_normal(400).astype(np.float32) for k in feats}
    data = SequenceSet(feats, ys, 25.0)
    model = ModelConfig(units=(32, 16))
    before = torch.get_num_threads()
    try:
        out = [train(model, TrainConfig(epochs=1, threads=n, seed=0), data, None,
                     progress=False) for n in (1, 2)]
    finally:
        torch.set_num_threads(before)
    assert [r.runtime[0]["threads"] for r in out] == [1, 2]
    for k, v in out[0].states[1].items():
        np.testing.assert_allclose(v.numpy(), out[1].states[1][k].numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=k)
    # ... and the same count twice gives the same bits (the allocation policy's promise)
    again = train(model, TrainConfig(epochs=1, threads=1, seed=0), data, None, progress=False)
    torch.set_num_threads(before)
    for k, v in out[0].states[1].items():
        np.testing.assert_array_equal(v.numpy(), again.states[1][k].numpy(), err_msg=k)


def test_allocation_policy_takes_the_available_cores(monkeypatch):
    import torch

    monkeypatch.setattr(th, "available_cores", lambda: 1.5)
    before = torch.get_num_threads()
    try:
        assert th.ThreadPolicy(0, "allocation").start().history == [1]
        assert th.ThreadPolicy(3, "allocation").start().history == [3]   # a count wins
    finally:
        torch.set_num_threads(before)
    with pytest.raises(Exception, match="thread policy"):
        th.ThreadPolicy(0, "fastest")


def test_passive_openmp_respects_the_users_choice(monkeypatch):
    monkeypatch.setattr(th, "_SET_TOO_LATE", [False])
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert th.passive_openmp() is False
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert th.passive_openmp() is False           # torch is imported already: no effect here
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert th.openmp_spins()                       # set, but too late for this process


def _fresh(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_import_contaffect_makes_openmp_waiting_passive_before_torch_starts():
    out = _fresh("import contaffect, os, torch, contaffect.threads as t;"
                 "print(os.environ['OMP_WAIT_POLICY'], t.openmp_spins())")
    assert out.stdout.split() == ["PASSIVE", "False"], out.stderr


def test_a_fixed_count_with_spinning_openmp_warns_once():
    code = ("import torch, logging; logging.basicConfig();"
            "from contaffect.threads import ThreadPolicy;"
            "ThreadPolicy(2).start(); ThreadPolicy(2).start(); ThreadPolicy(1).start()")
    err = _fresh(code).stderr
    assert err.count("spin while they wait") == 1, err
    quiet = _fresh(code.replace("import torch, logging", "import contaffect, torch, logging"))
    assert "spin while they wait" not in quiet.stderr, quiet.stderr
