"""Extraction and session building on an existing Dask cluster ([features] scheduler).

One LocalCluster of two single-threaded worker processes (with nannies, so a
killed worker comes back) serves the whole module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from conftest import write_audio  # noqa: E402
from contaffect.cli import main  # noqa: E402
from contaffect.corpus import load_folder  # noqa: E402
from contaffect.errors import AudioError, ClusterError, ConfigError  # noqa: E402
from contaffect.features import FeatureStore, extract_corpus, load_corpus_features  # noqa: E402
from contaffect.features import distributed as dist  # noqa: E402
from contaffect.features.extract import group_by_duration  # noqa: E402
from contaffect.features.frames import Frames  # noqa: E402
from contaffect.features.smile import FeatureSet  # noqa: E402

#: Worker-side constructions of :class:`ToyExtractor` in this process.
BUILT = 0


class ToyExtractor:
    """A cheap test-only extractor (frame RMS and peak, 10 ms), named by dotted path.

    Its feature set's params may name a log file, to which every finished call
    appends the signal's length, and ``die_on``: the length of one signal at which
    the worker process exits the first time (a marker file makes it die once).
    """

    def __init__(self, feature_set: FeatureSet) -> None:
        global BUILT
        BUILT += 1
        self.feature_set = feature_set
        self.names = ("rms", "peak")
        self.opts = feature_set.options

    def __call__(self, signal: np.ndarray, sampling_rate: int = 16000) -> Frames:
        n = signal.size
        marker = self.opts.get("marker")
        if n == self.opts.get("die_on") and marker and not Path(marker).exists():
            Path(marker).write_text(str(os.getpid()))
            os._exit(1)                               # the worker dies mid-file
        frames = signal[: n // 160 * 160].reshape(-1, 160).astype(np.float64)
        values = np.column_stack([np.sqrt((frames ** 2).mean(1)), np.abs(frames).max(1)])
        if self.opts.get("log"):
            with open(self.opts["log"], "a") as fh:
                fh.write(f"{n}\n")
        return Frames(values.astype(np.float32), np.arange(len(values)) * 0.01, self.names, 100.0)


def toy_set(**params) -> FeatureSet:
    return FeatureSet("toy", "lld", 2, 0.01, "test-only extractor",
                      extractor=f"{__name__}:ToyExtractor", params=tuple(sorted(params.items())))


def built_on_workers() -> int:
    """On a worker: how many ToyExtractors this process built."""
    return BUILT


def reset_built() -> None:
    global BUILT
    BUILT = 0


def make_corpus(root: Path, n: int = 6, long_s: float | None = None):
    """``n`` files of distinct lengths (0.5 s, 0.6 s, ...), plus an optional long one."""
    rows = ["file,speaker,gender,emotion"]
    lengths = [0.5 + 0.1 * i for i in range(n)] + ([long_s] if long_s else [])
    for i, seconds in enumerate(lengths):
        write_audio(root / f"audio/f{i}.wav", seconds, seed=i)
        rows.append(f"audio/f{i}.wav,spk{i % 2},female,{['anger', 'neutral'][i % 2]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return load_folder(root)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as c:
        yield c
    dist.close_clients()


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def address(cluster) -> str:
    return cluster.scheduler_address


def _no_probe_left(folder: Path) -> bool:
    return not list(folder.rglob(f"{dist.PROBE_PREFIX}*"))


def test_same_entries_as_the_local_path(address, tmp_path):
    corpus = make_corpus(tmp_path / "c")
    rep = extract_corpus(corpus, tmp_path / "dask", scheduler=address, progress=False)
    local = extract_corpus(corpus, tmp_path / "local", workers=2, progress=False)
    assert rep.extracted == local.extracted == [r.id for r in corpus] and not rep.skipped
    a = load_corpus_features(corpus, tmp_path / "dask")
    b = load_corpus_features(corpus, tmp_path / "local")
    for rid in b:
        assert a[rid].values.tobytes() == b[rid].values.tobytes()
        assert a[rid].times.tobytes() == b[rid].times.tobytes() and a[rid].names == b[rid].names
    assert _no_probe_left(tmp_path / "dask")
    again = extract_corpus(corpus, tmp_path / "dask", scheduler=address, progress=False)
    assert len(again.cached) == len(corpus) and not again.extracted


def test_short_files_are_batched_and_extractors_built_once_per_worker(address, client, tmp_path,
                                                                      monkeypatch):
    corpus = make_corpus(tmp_path / "c", n=17, long_s=6.0)
    monkeypatch.setattr(dist, "FILES_PER_TASK", 3)
    monkeypatch.setattr(dist, "SECONDS_PER_TASK", 5.0)
    groups = dist.task_groups(list(corpus), n_workers=2)
    # similar lengths together, <= 3 files and <= 5 s each; the 6 s file is a task alone
    assert [len(g) for g in groups] == [3, 3, 3, 3, 2, 2, 1, 1]
    assert [g[0].id for g in groups if len(g) == 1] == ["f16", "f17"]
    assert groups == group_by_duration(list(corpus), 3, 5.0)
    # few files: smaller tasks, so that both workers get TASKS_PER_WORKER of them
    assert [len(g) for g in dist.task_groups(list(corpus)[:8], n_workers=2)] == [1] * 8
    client.run(reset_built)
    with distributed.get_task_stream(client=client) as ts:
        rep = extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler=address, progress=False)
    tasks = [t for t in ts.data if str(t["key"]).startswith("extract-")]
    assert len(rep.extracted) == 18 and len(tasks) == len(groups) == 8
    built = client.run(built_on_workers)
    assert sum(built.values()) <= len(built) < len(tasks)    # once per worker, not per task


def test_worker_killed_mid_file_loses_nothing_and_writes_each_file_once(address, client, tmp_path):
    corpus = make_corpus(tmp_path / "c", n=6)
    log, marker = tmp_path / "writes.log", tmp_path / "died"
    victim = int(round(0.8 * 16000))                          # the fourth file, mid-task
    fs = toy_set(log=str(log), marker=str(marker), die_on=victim)
    pids = set(client.run(os.getpid).values())
    rep = extract_corpus(corpus, tmp_path / "s", fs, scheduler=address, progress=False)
    assert marker.is_file()                                   # a worker did die on that file
    assert int(marker.read_text()) in pids
    client.wait_for_workers(2, timeout=30)
    assert int(marker.read_text()) not in set(client.run(os.getpid).values())   # restarted
    assert sorted(rep.extracted) == sorted(r.id for r in corpus) and not rep.skipped
    writes = [int(x) for x in log.read_text().split()]
    assert sorted(writes) == sorted(set(writes)) and len(writes) == len(corpus)  # once each
    assert victim in writes
    store = FeatureStore(tmp_path / "s")
    assert all(store.has(corpus.name, r.id, fs, r.audio) for r in corpus)
    assert not list((tmp_path / "s").rglob("*.tmp-*"))


def _blind(mode: str, elsewhere: str) -> None:
    """On one worker: make the probe read what a worker on another file system would."""
    original = dist._probe
    dist._original_probe = original

    def probe(path, fs):
        if mode == "late":                    # joined after the probe: only its tasks check
            return original(str(Path(elsewhere) / Path(path).name) if fs is None else path, fs)
        if mode == "missing":                 # the store folder is not mounted there
            return original(str(Path(elsewhere) / Path(path).name), fs)
        if mode == "other":                   # a folder of the same name, other content
            other = Path(elsewhere) / "stale-probe"
            other.write_text("not the token")
            return original(str(other), fs)
        return {**original(path, fs), "id": "toy-0000000000"}   # other versions

    dist._probe = probe


def _restore() -> None:
    dist._probe = getattr(dist, "_original_probe", dist._probe)


@pytest.mark.parametrize("mode, message", [
    ("missing", "cannot read it"), ("other", "other content"), ("version", "another store id"),
    ("late", "does not see the probe file")])
def test_a_worker_that_cannot_see_the_store_stops_the_run_first(address, client, tmp_path, mode,
                                                                message):
    corpus = make_corpus(tmp_path / "c", n=3)
    elsewhere = tmp_path / "worker-local"
    elsewhere.mkdir()
    workers = sorted(client.scheduler_info()["workers"])
    client.run(_blind, mode, str(elsewhere), workers=[workers[0]])
    try:
        with pytest.raises(ClusterError) as exc:
            extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler=address, progress=False)
    finally:
        client.run(_restore)
    text = str(exc.value)
    assert "\n" not in text and message in text and workers[0] in text and workers[1] not in text
    if mode != "version":
        assert "shared with the workers" in text and str((tmp_path / "s").resolve()) in text
    assert not list((tmp_path / "s").rglob("*.h5")) and _no_probe_left(tmp_path)


def test_bad_files_on_the_cluster_all_or_nothing_or_skipped(address, tmp_path):
    corpus = make_corpus(tmp_path / "c", n=4)
    corpus["f2"].audio.write_bytes(b"")
    with pytest.raises(AudioError, match=r"1 of 4 file\(s\).*nothing was extracted.*f2\.wav"):
        extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler=address, progress=False)
    assert not list((tmp_path / "s").rglob("*.h5"))
    rep = extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler=address, skip_bad=True,
                         progress=False)
    assert rep.extracted == ["f0", "f1", "f3"] and list(rep.skipped) == ["f2"]


def test_unreachable_scheduler_or_no_dask_is_one_line_before_any_work(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "c", n=2)
    monkeypatch.setattr(dist, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler tcp://127\.0\.0\.1:9 "
                                           r"within 1 s") as exc:
        extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler="tcp://127.0.0.1:9",
                       progress=False)
    assert "\n" not in str(exc.value) and not (tmp_path / "s").exists()
    with pytest.raises(ClusterError, match="does not exist"):
        extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler=str(tmp_path / "s.json"),
                       progress=False)
    monkeypatch.setitem(sys.modules, "distributed", None)          # dask not installed
    with pytest.raises(ConfigError, match=r"install contaffect\[dask\]"):
        extract_corpus(corpus, tmp_path / "s", toy_set(), scheduler="tcp://127.0.0.1:9",
                       progress=False)


def test_scheduler_option_is_validated_at_load(tmp_path, capsys):
    from contaffect.experiment.config import demo_data, from_dict

    def cfg(value, base=None):
        data = demo_data()
        data["features"] = {**data.get("features", {}), "scheduler": value}
        return from_dict(data, base_dir=base, source="x.toml").features.scheduler

    assert cfg("") == "" and cfg("tcp://10.1.2.3:8786") == "tcp://10.1.2.3:8786"
    assert cfg("node07:8786") == "node07:8786" and cfg("inproc://1.2.3.4/5/6").startswith("inproc")
    (tmp_path / "sched.json").write_text('{"address": "tcp://10.1.2.3:8786"}')
    assert cfg("sched.json", tmp_path) == str((tmp_path / "sched.json").resolve())
    (tmp_path / "other.json").write_text('{"type": "Scheduler"}')
    for bad, fragment in [("node07", "features.scheduler: expected"),
                          ("tcp://node07", "features.scheduler: expected"),
                          ("tcp://node07:70000", "features.scheduler: expected"),
                          ("udp://node07:8786", "features.scheduler: expected"),
                          (8786, "features.scheduler: expected"),
                          ("missing.json", "does not exist"),
                          ("other.json", "not a Dask scheduler file")]:
        with pytest.raises(ConfigError, match=fragment) as exc:
            cfg(bad, tmp_path)
        assert "\n" not in str(exc.value)
    corpus = make_corpus(tmp_path / "c", n=1)
    assert main(["extract", str(corpus.root), "--store", str(tmp_path / "s"),
                 "--scheduler", "tcp://node07"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("contaffect: error: --scheduler: expected") and "\n" not in err
    assert not (tmp_path / "s").exists()


def test_sessions_are_the_same_with_and_without_dask(address, tmp_path):
    from sessions_reference import build_sessions_in_order, mixed_source, tree_bytes

    from contaffect.labels.mapping import load_mapping
    from contaffect.synth.pseudo_continuous import build_sessions, session_spec

    src = mixed_source(tmp_path / "src")
    spec = session_spec(load_mapping("acted_basic_av").classes,
                        {"session_s": 4.0, "seed": 5, "gain_jitter_db": 3.0})
    ref = build_sessions_in_order(src, tmp_path / "ref", spec, progress=False)
    local = build_sessions(src, tmp_path / "local", spec, progress=False, workers=2)
    on_dask = build_sessions(src, tmp_path / "dask", spec, progress=False, scheduler=address)
    assert ref == local == on_dask and ref["sessions"] >= 4
    want = tree_bytes(tmp_path / "ref")
    for out in ("local", "dask"):
        got = tree_bytes(tmp_path / out)
        assert sorted(got) == sorted(want) and [k for k in want if got[k] != want[k]] == []
