"""Dask extraction benchmark: a LocalCluster of 2 single-threaded workers against 2 local threads.

Both extract ComParE 2016 LLDs (the default set) of the same files into fresh
stores. Printed, from one run (the machine is shared: compare the ratio, not
the seconds):

1. wall time of ``extract_corpus(workers=2)`` (local thread pool) and of
   ``extract_corpus(scheduler=...)`` on a ``LocalCluster(n_workers=2,
   threads_per_worker=1)`` (processes; started, connected and warmed up
   before the clock starts, as a lab cluster would be), and their ratio;
2. from the scheduler's task stream: the tasks, files per task, the mean
   compute time per task and per file, and the scheduler's overhead per task
   (the wall time of 400 no-op tasks on the same two workers, per task and
   worker);
3. on paper, the expected cost of one more machine: per-file times from the
   measured tasks (each task's compute time shared among its files in
   proportion to their durations), grouped into tasks as contaffect would for
   2, 3, 4 workers (``task_groups``), each task charged the overhead per task,
   scheduled longest-first, plus the part of the run that stays on the client
   (probe, cache check, headers, what the 2-worker schedule does not explain).
   A lab cluster's overhead per task is larger (network, a remote scheduler);
   the table shows how much room there is before it matters.

Usage::

    python benchmarks/dask_extraction.py [--data ../shared/data/ravdess] [--limit N]
"""

from __future__ import annotations

import argparse
import heapq
import logging
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "ravdess"


def _noop(x: int) -> int:
    return x


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def makespan(durations: list[float], workers: int) -> float:
    """Longest-first list scheduling of task durations onto ``workers`` (the greedy that
    Dask's work stealing approaches)."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads)


def compute_times(stream: list[dict], prefix: str) -> dict[int, float]:
    """Task index -> compute seconds of the tasks whose key starts with ``prefix``."""
    out = {}
    for t in stream:
        key = str(t["key"])
        if key.startswith(prefix):
            out[int(key.rsplit("-", 1)[1])] = sum(s["stop"] - s["start"] for s in t["startstops"]
                                                  if s["action"] == "compute")
    return out


def per_file(times: dict[int, float], groups: list[list], length: dict) -> dict[str, float]:
    """Each file's share of its task's compute time, in proportion to its duration."""
    out = {}
    for i, group in enumerate(groups):
        total = sum(length[item.id] for item in group) or 1.0
        for item in group:
            out[item.id] = times.get(i, 0.0) * length[item.id] / total
    return out


def expected(files: dict[str, float], items: list, workers: int, overhead: float) -> float:
    """Makespan of the files grouped as contaffect groups them for ``workers`` workers."""
    from contaffect.features import distributed as dist

    return makespan([sum(files[i.id] for i in g) + overhead
                     for g in dist.task_groups(items, workers)], workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0, help="first N files only (0: all)")
    args = ap.parse_args()
    if not (args.data / "labels.csv").is_file():
        print(f"skipped: no corpus at {args.data} (needs labels.csv; the real speech is only in "
              "the project workspace, see ../shared/data/README.md); pass --data")
        return
    try:
        import distributed
    except ImportError:
        print("skipped: dask is not installed (pip install 'contaffect[dask]')")
        return
    from contaffect.corpus import load_folder
    from contaffect.features import extract_corpus
    from contaffect.features import distributed as dist
    from contaffect.features.extract import _duration

    logging.getLogger("distributed").setLevel(logging.ERROR)
    corpus = load_folder(args.data)
    ids = [r.id for r in corpus]
    warm = corpus.select(ids=ids[-4:])
    if args.limit:
        corpus = corpus.select(ids=ids[: args.limit])
    n = len(corpus)
    items = [dist.Item(r.id, Path(r.audio).resolve()) for r in corpus]
    length = {r.id: _duration(r) for r in corpus}
    groups = dist.task_groups(items, 2)          # what the 2-worker run submits, in order
    hours = sum(length.values()) / 3600
    print(f"corpus: {args.data} ({n} files, {hours:.3f} h), ComParE 2016 LLDs")

    with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl, set_as_default=False) as client:
        tmp = Path(tmp)
        address = cl.scheduler_address
        # warm up both paths on other files (page cache, imports, extractors, connection)
        extract_corpus(warm, tmp / "warm_local", workers=2, progress=False)
        extract_corpus(warm, tmp / "warm_dask", scheduler=address, progress=False)

        t_local = timed(lambda: extract_corpus(corpus, tmp / "local", workers=2, progress=False))
        with distributed.get_task_stream(client=client) as ts:
            t_dask = timed(lambda: extract_corpus(corpus, tmp / "dask", scheduler=address,
                                                  progress=False))
        extract = compute_times(ts.data, "extract-")
        check = compute_times(ts.data, "check-")
        t_noop = timed(lambda: client.gather(client.map(_noop, range(400), pure=False)))
        overhead = t_noop * 2 / 400
        dist.close_clients()                    # before the cluster goes

    print(f"local thread pool, 2 threads:        {t_local:8.2f} s")
    print(f"Dask LocalCluster, 2 workers x 1:    {t_dask:8.2f} s")
    print(f"ratio Dask / local (one run):        {t_dask / t_local:8.3f}")
    assert len(extract) == len(groups), "the task stream does not match task_groups"
    print(f"tasks: {len(extract)} extraction (+ {len(check)} pre-flight check), "
          f"{n / max(1, len(extract)):.1f} files per task (FILES_PER_TASK "
          f"{dist.FILES_PER_TASK}, SECONDS_PER_TASK {dist.SECONDS_PER_TASK:g}, TASKS_PER_WORKER "
          f"{dist.TASKS_PER_WORKER})")
    mean_task = sum(extract.values()) / max(1, len(extract))
    print(f"mean compute per extraction task:    {mean_task:8.3f} s "
          f"({sum(extract.values()) / n * 1000:.1f} ms per file); per check task "
          f"{sum(check.values()) / max(1, len(check)):.3f} s")
    print(f"scheduler overhead per task:         {overhead * 1000:8.2f} ms "
          f"(400 no-op tasks on 2 workers: {t_noop:.2f} s), "
          f"{overhead / max(mean_task, 1e-9) * 100:.2f} % of a mean task")

    # on paper: the measured per-file times, grouped and scheduled for more workers
    files_x, files_c = per_file(extract, groups, length), per_file(check, groups, length)

    def model(k: int) -> float:
        return (expected(files_c, items, k, overhead) + expected(files_x, items, k, overhead))

    client_side = max(0.0, t_dask - model(2))
    print(f"client-side part (probe, cache check, headers, gaps): {client_side:.2f} s")
    print("workers  expected wall  speed-up vs 2 workers  gain of the last worker")
    prev = None
    for k in (2, 3, 4):
        wall = client_side + model(k)
        gain = "" if prev is None else f"{prev / wall:8.2f}x"
        print(f"{k:>7}  {wall:11.2f} s  {(client_side + model(2)) / wall:20.2f}x  {gain}")
        prev = wall
    print("(2 cores here: a third and fourth worker would need machines of their own; the "
          "figures assume each worker runs as fast as the two measured)")


if __name__ == "__main__":
    sys.exit(main())
