"""Scale benchmark: time, peak memory and disk of the ordinary commands at 1, 10, 100 hours.

For each size (hours of audio) a synthetic SEMAINE-like corpus is generated and
run through the commands a user runs, each in a fresh process:

1. ``contaffect synth semaine_like --scale S --workers 2`` (S = 2.4 per hour:
   at scale 1 the preset is 5 speakers x 2 sessions of 120-180 s, 25 min;
   above 1 it adds speakers, so hours grow linearly with S);
2. ``contaffect extract CORPUS --store STORE --workers 2`` (ComParE LLDs, the
   experiment's default feature set) into the experiment's store;
   With ``--dask``, the same extraction again with ``--scheduler`` on a
   ``LocalCluster`` of 2 single-threaded worker processes, into a store of
   its own: the thread pool and the cluster on the same files;
3. ``contaffect run scale.toml``: one cross-corpus assignment, train on the
   big corpus, pick the epoch on recola_like, test on creativeit_like
   (arousal, ``--epochs`` epochs, every other option at its default, lag
   estimation included; the features come from step 2's store).

The validation and test corpora (fixed size, 31 min together) are generated and
extracted first, in a setup row of their own, so that step 3 measures the
growing part. For every stage: wall time, real-time factor (wall / audio of
the big corpus), peak RSS of the stage's process (``os.wait4``'s
``ru_maxrss``: the process and every child it waited for) and what it adds on
disk. Each stage runs under a data-size limit (``RLIMIT_DATA``, default: the
memory available when the stage starts, less 1 GiB), so a stage that would
exhaust the machine's memory fails with a MemoryError instead of waking the
out-of-memory killer on a shared machine.

Results are merged into ``WORKDIR/scale_results.json`` (by size), so sizes can be
run one at a time (``--hours 10``, later ``--hours 100``) and the table shows
them all. Then the per-hour figures: seconds per hour of audio for every stage
and, given two sizes, the ratio of their peak RSS and the growth of RSS per
hour, with which a user extrapolates linearly to 1000 h.

Usage::

    python benchmarks/scale.py [--hours 1 10 100] [--epochs 1] [--workdir DIR] [--keep] [--dask]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PRESET = "semaine_like"
#: Planned hours of semaine_like per unit of scale above 1 (5 speakers x 2 sessions x 150 s).
HOURS_PER_SCALE = 5 * 2 * 150.0 / 3600
VAL, TEST = "recola_like", "creativeit_like"
DASK = "extract on Dask"
STAGES = ("setup: val + test corpora", "synth", "extract", DASK, "train + evaluate")
TOML = """\
# written by benchmarks/scale.py: one cross-corpus assignment, defaults otherwise
name = "scale benchmark, {hours:g} h of {preset}"
seeds = [0]
workdir = "{workdir}"

[corpora.{train}]
path = "{train_path}"

[corpora.{val}]
path = "{val_path}"

[corpora.{test}]
path = "{test_path}"

[features]
workers = {workers}

[labels]
estimate_lag = {estimate_lag}

[training]
epochs = {epochs}

[protocol]
assignments = [["{train}", "{val}", "{test}"]]
dimensions = ["arousal"]
"""


@dataclass
class StageResult:
    """One stage of one size."""

    hours: float
    stage: str
    wall_s: float
    audio_s: float
    rss_mib: float
    disk_mib: float
    note: str = ""
    date: str = ""
    load: float = 0.0
    detail: str = ""


def scale_for(hours: float) -> float:
    """The ``--scale`` of :data:`PRESET` that plans about ``hours`` of audio.

    Above 1 the scale adds speakers; below 1 (under 25 min, for quick checks)
    it shortens the sessions, not under 12 s.
    """
    return round(hours / HOURS_PER_SCALE, 3)


def available_bytes() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` (0 if unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def folder_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (0 if absent)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_stage(cmd: list[str], log: Path, limit_bytes: int) -> tuple[float, float, int, float]:
    """Run one command as a fresh process: wall time, peak RSS (MiB), exit code, mean load.

    ``os.wait4`` reports the peak RSS of that process alone (and of the
    children it reaped), so stages do not mask each other as
    ``RUSAGE_CHILDREN`` of this process would. ``limit_bytes`` (> 0) caps
    the process' data segment. The load is the machine's 1-minute load
    average sampled every 5 s while the stage runs (the stage's own threads
    included): above the number of cores, something else shared them.
    """
    def limit() -> None:
        if limit_bytes > 0:
            resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, preexec_fn=limit)
        with LoadSampler() as load:
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)      # reaped here, not by Popen
    return wall, usage.ru_maxrss / 1024, proc.returncode, load.mean


class LoadSampler:
    """Samples the 1-minute load average on a thread while in the ``with`` block."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    @property
    def mean(self) -> float:
        """Mean of the samples."""
        return sum(self.samples) / len(self.samples)


def contaffect(*args: str) -> list[str]:
    """A ``contaffect`` command line run by this interpreter."""
    return [sys.executable, "-m", "contaffect.cli", *args]


def _limit(args: argparse.Namespace) -> int:
    if args.mem_limit_gib is not None:
        return int(args.mem_limit_gib * 2**30)
    return max(0, available_bytes() - 2**30)


def _failed(code: int, limit: int, log: Path) -> str:
    return "" if code == 0 else (f"FAILED (exit {code}, data limit {limit / 2**30:.1f} GiB; "
                                 f"see {log})")


def _audio_s(corpus: Path) -> float:
    return json.loads((corpus / "synth" / "report.json").read_text())["hours"] * 3600


def _peak_rss_mib() -> float:
    """This process' peak RSS (run on each Dask worker)."""
    import resource as res

    return res.getrusage(res.RUSAGE_SELF).ru_maxrss / 1024


def dask_stage(hours: float, corpus: Path, root: Path, audio: float,
               args: argparse.Namespace) -> StageResult:
    """``contaffect extract --scheduler`` on a LocalCluster of ``--workers`` single-threaded
    processes, into a store of its own (removed after): the same files as the extract
    stage, so the two rows compare the local thread pool with the cluster on one machine.

    The stage's peak RSS is the client's; the workers' largest peak goes in the note.
    """
    from dask.distributed import Client, LocalCluster

    store = root / "work" / "store_dask"
    log = root / "logs" / "extract_dask.log"
    limit = _limit(args)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        cmd = contaffect("extract", str(corpus), "--store", str(store), "--scheduler",
                         cluster.scheduler_address, "--quiet")
        print(f"[{hours:g} h] {DASK}: {' '.join(cmd[2:])}", flush=True)
        wall, rss, code, load = run_stage(cmd, log, limit)
        workers = max(client.run(_peak_rss_mib).values())
    disk = folder_bytes(store)
    shutil.rmtree(store, ignore_errors=True)
    note = _failed(code, limit, log) or f"{args.workers} workers, peak RSS {workers:.0f} MiB each"
    print(f"    {wall:.1f} s, client peak RSS {rss:.0f} MiB, workers {workers:.0f} MiB, "
          f"disk {disk / 2**20:.0f} MiB, load {load:.1f}", flush=True)
    return StageResult(hours, DASK, wall, audio, rss, disk / 2**20, note, load=load)


def setup(root: Path, store: Path, workers: int, args: argparse.Namespace) -> StageResult:
    """Generate and extract the fixed-size validation and test corpora (one row)."""
    wall, rss, notes, audio, loads = 0.0, 0.0, [], 0.0, []
    for name in (VAL, TEST):
        folder = root / "corpora" / name
        for cmd, log in ((contaffect("synth", name, "--out", str(folder), "--workers",
                                     str(workers), "--quiet"), f"synth_{name}"),
                         (contaffect("extract", str(folder), "--store", str(store),
                                     "--workers", str(workers), "--quiet"), f"extract_{name}")):
            limit = _limit(args)
            w, r, code, load = run_stage(cmd, root / "logs" / f"{log}.log", limit)
            wall, rss = wall + w, max(rss, r)
            loads.append((w, load))
            if code:
                notes.append(_failed(code, limit, root / "logs" / f"{log}.log"))
        if (folder / "synth" / "report.json").is_file():
            audio += _audio_s(folder)
    disk = folder_bytes(root / "corpora" / VAL) + folder_bytes(root / "corpora" / TEST) \
        + folder_bytes(store)
    return StageResult(0.0, STAGES[0], wall, audio, rss, disk / 2**20, "; ".join(notes),
                       load=sum(w * x for w, x in loads) / max(wall, 1e-9))


def run_size(hours: float, args: argparse.Namespace) -> list[StageResult]:
    """Every stage of one size, in a folder of its own (its corpora, store and report are
    removed after, unless ``--keep``; the logs stay)."""
    root = args.workdir / f"h{hours:g}"
    if root.exists():
        shutil.rmtree(root)
    work = root / "work"
    store = work / "store"
    out: list[StageResult] = []
    first = setup(root, store, args.workers, args)
    first.hours = hours
    out.append(first)
    if first.note:
        return out                    # the setup failed: its log says why
    corpus = root / "corpora" / f"{PRESET.split('_')[0]}_{hours:g}h".replace(".", "p")
    scale = scale_for(hours)
    stages = [
        ("synth", contaffect("synth", PRESET, "--out", str(corpus), "--scale", f"{scale:g}",
                             "--workers", str(args.workers), "--quiet"),
         lambda: folder_bytes(corpus)),
        ("extract", contaffect("extract", str(corpus), "--store", str(store), "--workers",
                               str(args.workers), "--quiet"), None),
        ("train + evaluate", contaffect("run", str(write_config(root, corpus, work, hours, args)),
                                        "--quiet"), None),
    ]
    audio = 0.0
    for name, cmd, disk_of in stages:
        before = folder_bytes(work)
        limit = _limit(args)
        log = root / "logs" / f"{name.split()[0]}.log"
        print(f"[{hours:g} h] {name}: {' '.join(cmd[2:])}", flush=True)
        wall, rss, code, load = run_stage(cmd, log, limit)
        if name == "synth" and code == 0:
            audio = _audio_s(corpus)
        disk = disk_of() if disk_of else folder_bytes(work) - before
        out.append(StageResult(hours, name, wall, audio, rss, disk / 2**20,
                               _failed(code, limit, log), load=load))
        print(f"    {wall:.1f} s, peak RSS {rss:.0f} MiB, disk {disk / 2**20:.0f} MiB, "
              f"load {load:.1f}", flush=True)
        if code:
            break
        if name == "extract" and args.dask:
            out.append(dask_stage(hours, corpus, root, audio, args))
    if out[-1].stage == STAGES[-1]:
        out[-1].detail = stage_seconds(work / "report" / "run.json")
        print(f"    by stage (run.json): {out[-1].detail}", flush=True)
    if not args.keep:                 # the logs and the TOML stay, for a failed stage's note
        shutil.rmtree(root / "corpora", ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return out


def write_config(root: Path, corpus: Path, work: Path, hours: float,
                 args: argparse.Namespace) -> Path:
    """The experiment TOML of the training stage (kept beside the logs)."""
    path = root / "scale.toml"
    path.write_text(TOML.format(
        hours=hours, preset=PRESET, workdir=work, train=corpus.name, train_path=corpus,
        val=VAL, val_path=root / "corpora" / VAL, test=TEST, test_path=root / "corpora" / TEST,
        workers=args.workers, epochs=args.epochs,
        estimate_lag="true" if args.estimate_lag else "false"))
    return path


def stage_seconds(run_json: Path) -> str:
    """The experiment's own seconds per stage (``run.json``), as one line."""
    if not run_json.is_file():
        return ""
    stages = json.loads(run_json.read_text())["seconds_per_stage"]
    return ", ".join(f"{k} {v:.0f} s" for k, v in stages.items())


def table(results: list[StageResult]) -> str:
    """The Markdown table of every stage of every size."""
    lines = ["| hours | stage | wall s | RTF | peak RSS MiB | disk MiB | load | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r.hours, STAGES.index(r.stage))):
        rtf = f"{r.wall_s / r.audio_s:.4f}" if r.audio_s else ""
        lines.append(f"| {r.hours:g} | {r.stage} | {r.wall_s:.1f} | {rtf} | {r.rss_mib:.0f} | "
                     f"{r.disk_mib:.0f} | {r.load:.1f} | {r.note} |")
    return "\n".join(lines)


def per_hour(results: list[StageResult]) -> str:
    """Seconds per hour of audio; with a smaller size measured too, what each added hour costs.

    The 1000-hour column extrapolates linearly from the two largest sizes
    (from seconds per hour alone when there is one size: an over-estimate
    for stages with a fixed cost, such as the training stage's evaluation).
    """
    lines = ["| stage | hours | s per hour of audio | s per added hour | RSS / RSS at the "
             "previous size | RSS MiB per added hour | linear extrapolation to 1000 h |",
             "|---|---|---|---|---|---|---|"]
    for stage in STAGES[1:]:
        rows = sorted((r for r in results if r.stage == stage and r.audio_s and not r.note),
                      key=lambda r: r.hours)
        prev = None
        for r in rows:
            h = r.audio_s / 3600
            cells = ["", "", ""]
            wall_1000 = r.wall_s / h * 1000
            rss_1000 = ""
            if prev is not None:
                dh = h - prev.audio_s / 3600
                t_slope = (r.wall_s - prev.wall_s) / dh
                m_slope = (r.rss_mib - prev.rss_mib) / dh
                cells = [f"{t_slope:.0f}", f"{r.rss_mib / prev.rss_mib:.2f}", f"{m_slope:.0f}"]
                wall_1000 = r.wall_s + t_slope * (1000 - h)
                rss_1000 = f", {(r.rss_mib + m_slope * (1000 - h)) / 1024:.1f} GiB peak RSS"
            lines.append(f"| {stage} | {h:.2f} | {r.wall_s / h:.0f} | {' | '.join(cells)} | "
                         f"{wall_1000 / 3600:.1f} h wall{rss_1000} |")
            prev = r
    return "\n".join(lines)


def load_results(path: Path) -> list[StageResult]:
    """Results of earlier runs (every size), if any."""
    if not path.is_file():
        return []
    return [StageResult(**r) for r in json.loads(path.read_text())]


def save_results(path: Path, old: list[StageResult], new: list[StageResult]) -> list[StageResult]:
    """Earlier results with this run's sizes replaced; written back and returned."""
    sizes = {r.hours for r in new}
    merged = [r for r in old if r.hours not in sizes] + new
    path.write_text(json.dumps([asdict(r) for r in merged], indent=1))
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 10.0, 100.0],
                    help="sizes in hours of audio (default 1 10 100)")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    ap.add_argument("--workers", type=int, default=2,
                    help="--workers of synth, extract and [features] (default 2)")
    ap.add_argument("--workdir", type=Path, default=Path("scale-benchmark"),
                    help="where corpora, stores, logs and scale_results.json go")
    ap.add_argument("--keep", action="store_true",
                    help="keep each size's corpora, store and report (default: removed)")
    ap.add_argument("--no-estimate-lag", dest="estimate_lag", action="store_false",
                    help="[labels] estimate_lag = false in the training stage")
    ap.add_argument("--dask", action="store_true",
                    help="after the extract stage, extract the same corpus again on a Dask "
                         "LocalCluster of --workers processes (its own store, removed after)")
    ap.add_argument("--mem-limit-gib", type=float, default=None,
                    help="data-size limit of every stage (default: available memory - 1 GiB; "
                         "0: none)")
    args = ap.parse_args()
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{PRESET}: scale {', '.join(f'{scale_for(h):g}' for h in args.hours)} for "
          f"{', '.join(f'{h:g}' for h in args.hours)} h; {os.cpu_count()} cores, "
          f"{available_bytes() / 2**30:.1f} GiB available", flush=True)
    results_path = args.workdir / "scale_results.json"
    new = []
    for hours in args.hours:
        for r in run_size(hours, args):
            r.date = time.strftime("%Y-%m-%d")
            new.append(r)
    results = save_results(results_path, load_results(results_path), new)
    print()
    print(table(results))
    print()
    print(per_hour(results))
    for r in sorted(results, key=lambda r: r.hours):
        if r.detail:
            print(f"\n{r.hours:g} h, {r.stage} by stage (run.json): {r.detail}")


if __name__ == "__main__":
    main()
