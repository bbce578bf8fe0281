"""Extraction and file tasks on an existing Dask cluster (``[features] scheduler``).

contaffect never starts a scheduler of its own: it connects a
``distributed.Client`` to the one a lab cluster runs (``dask scheduler`` by
hand, dask-jobqueue on SLURM, dask-kubernetes, dask-mpi), given by address or
scheduler file. What runs where:

- **client** (the contaffect process): loads the corpus, checks the store cache,
  reads file headers to group the pending files into tasks, shows the progress
  bar and fills the :class:`~contaffect.features.extract.ExtractionReport`;
- **workers**: decode the audio, build each extractor once per worker process
  (an openSMILE ``Smile``, an SSL model; cached by feature set id) and write
  the store entries themselves (:meth:`FeatureStore.put`, one atomic file per
  entry). A task returns only what the report needs: an
  :class:`~contaffect.features.audio.AudioInfo` or the error of each file.

Before any work a **probe** checks that every worker sees the store as the
client does: the client writes a file with a random token into the store
folder and runs a function on every worker that reads it back (and computes
the feature set's id, so that a worker with another openSMILE version, which
would file entries under another id, is refused too). Any worker that cannot
see the file, or sees other content, stops the run with a one-line
:class:`~contaffect.errors.ClusterError` naming it. The file stays while the
run lasts and every task checks it again before it reads or writes anything,
so a worker that joins the cluster later is checked by its first task.

Short files are **batched** (up to :data:`FILES_PER_TASK` files or
:data:`SECONDS_PER_TASK` seconds of audio per task, from the headers), so the
scheduler's per-task overhead stays small next to the work; a long file is a
task of its own. Tasks are submitted with ``retries``: a task whose worker dies
is rescheduled by Dask (up to ``distributed.scheduler.allowed-failures``
times), and a task that raised is retried :data:`RETRIES` times. Since an
entry is written to a temporary file and renamed into place, a file is
either in the store whole or not at all; a rerun task skips the files an
earlier attempt already wrote, so each file is extracted and written once,
and the client counts each file once (per finished task, never per attempt).

:func:`run_tasks` serves other file-writing work (pseudo-continuous sessions)
on the same engine: local threads without a scheduler, Dask tasks with one,
after the same probe of the output folder.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence

from tqdm.auto import tqdm

from contaffect.errors import ClusterError, ConfigError, ContaffectError

if TYPE_CHECKING:
    from distributed import Client

    from contaffect.corpus.model import Recording
    from contaffect.features.extract import ExtractionReport
    from contaffect.features.smile import FeatureSet
    from contaffect.features.store import FeatureStore

log = logging.getLogger(__name__)

#: Seconds to wait for the scheduler to answer, and for a first worker to join it.
CONNECT_TIMEOUT_S = 20.0
#: At most this many files per extraction task...
FILES_PER_TASK = 16
#: ... holding at most this many seconds of audio together (a longer file is a task alone).
SECONDS_PER_TASK = 60.0
#: ... but never so few tasks that a worker gets fewer than this many (load balance).
TASKS_PER_WORKER = 4
#: Times a task that raised is run again (a task whose worker died is rescheduled by Dask).
RETRIES = 2
#: Name prefix of the probe file written into the shared folder.
PROBE_PREFIX = ".contaffect-probe-"
#: Extractors kept per worker process (least recently used dropped first).
CACHED_EXTRACTORS = 4

_INSTALL = "install contaffect[dask] (pip install 'contaffect[dask]') on the client and workers"


class Item(NamedTuple):
    """A file to extract, as sent to a worker: its id and absolute audio path (no labels)."""

    id: str
    audio: Path


# ------------------------------------------------------------------ connecting
_CLIENTS: dict[str, "Client"] = {}


def connect(scheduler: str, timeout: float | None = None) -> "Client":
    """A client of the scheduler at ``scheduler`` (an address or a scheduler JSON file).

    One client per scheduler is kept for the process, so that an experiment
    extracting many corpora connects once.

    Raises
    ------
    ConfigError
        Dask is not installed.
    ClusterError
        The scheduler does not answer within ``timeout`` seconds
        (:data:`CONNECT_TIMEOUT_S`), or no worker joins it in that time.
    """
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"[features] scheduler = {scheduler!r} needs Dask: {_INSTALL}") from None
    client = _CLIENTS.get(scheduler)
    if client is not None and client.status == "running":
        return client
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    is_file = scheduler.endswith(".json") and "://" not in scheduler
    if is_file and not Path(scheduler).is_file():
        raise ClusterError(f"scheduler file {scheduler} does not exist (start the scheduler "
                           "first)")
    target = {"scheduler_file": scheduler} if is_file else {"address": scheduler}
    try:
        client = distributed.Client(**target, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler} within {timeout:g} s "
                           f"({_short(exc)}); start it, or fix [features] scheduler / "
                           "--scheduler") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise ClusterError(f"no worker joined the Dask scheduler {scheduler} within "
                           f"{timeout:g} s ({_short(exc)}); start workers") from None
    _CLIENTS[scheduler] = client
    return client


def close_clients() -> None:
    """Close every client :func:`connect` kept (tests; a process exit closes them too)."""
    while _CLIENTS:
        _, client = _CLIENTS.popitem()
        client.close()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ------------------------------------------------------------------ the probe
def _probe(path: str, feature_set: "FeatureSet | None") -> dict:
    """On a worker: the probe file's content (or why it cannot be read) and the set's id."""
    from contaffect import __version__

    try:
        token = Path(path).read_text()
    except OSError as exc:
        token = None
        seen = f"cannot read it ({_short(exc)})"
    else:
        seen = "other content"
    return dict(token=token, seen=seen, contaffect=__version__,
                id=None if feature_set is None else feature_set.id)


class Probe(NamedTuple):
    """The probe file of a run (its path and token), checked again by every task."""

    path: str
    token: str
    what: str


@contextmanager
def shared_folder(client: "Client", folder: Path, what: str,
                  feature_set: "FeatureSet | None" = None) -> Iterator[Probe]:
    """Refuse to run unless every worker sees ``folder`` as the client does.

    Writes a probe file with a random token into ``folder`` and has every
    connected worker read it back (``client.run``) before yielding; with a
    ``feature_set``, each worker also computes its store id, which must equal
    the client's (the same openSMILE and contaffect versions). The file stays
    while the run lasts, so that each task checks it again (:func:`see`: a
    worker that joins later is checked by its first task), and is removed
    afterwards.

    Raises
    ------
    ClusterError
        Naming the workers that cannot see the file, see other content,
        cannot run contaffect, or compute another feature set id.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    path = folder / f"{PROBE_PREFIX}{token}"
    path.write_text(token)
    try:
        try:
            answers = client.run(_probe, str(path), feature_set, on_error="return")
        except (OSError, TimeoutError) as exc:           # the scheduler went away
            raise ClusterError(f"the Dask scheduler stopped answering ({_short(exc)})") from None
        _judge(answers, token, folder, what, feature_set)
        yield Probe(str(path), token, what)
    finally:
        path.unlink(missing_ok=True)


def _judge(answers: dict, token: str, folder: Path, what: str,
           feature_set: "FeatureSet | None") -> None:
    """Raise a one-line ClusterError unless every worker's probe answer is right."""
    if not answers:
        raise ClusterError(f"the Dask scheduler has no workers to check {folder} with")
    failed = {w: f"{type(a).__name__}: {_short(a)}" for w, a in answers.items()
              if isinstance(a, BaseException)}
    if failed:
        w, why = next(iter(failed.items()))
        raise ClusterError(f"{len(failed)} of {len(answers)} Dask worker(s) cannot run "
                           f"contaffect's probe ({', '.join(sorted(failed))}; {w}: {why}); "
                           f"{_INSTALL}")
    blind = {w: a["seen"] for w, a in answers.items() if a["token"] != token}
    if blind:
        named = ", ".join(f"{w} ({why})" for w, why in sorted(blind.items())[:5])
        more = f" and {len(blind) - 5} more" if len(blind) > 5 else ""
        raise ClusterError(f"{len(blind)} of {len(answers)} Dask worker(s) do not see the probe "
                           f"file the client wrote into {folder}: {named}{more}; the {what} must "
                           "be on a file system shared with the workers, at the same path")
    if feature_set is not None:
        other = {w: a for w, a in answers.items() if a["id"] != feature_set.id}
        if other:
            w, a = sorted(other.items())[0]
            raise ClusterError(f"{len(other)} Dask worker(s) ({', '.join(sorted(other))}) file "
                               f"{feature_set.name} under another store id than the client "
                               f"({a['id']} on {w}, contaffect {a['contaffect']}; "
                               f"{feature_set.id} here): install the same contaffect and "
                               "openSMILE versions on the workers")


def see(probe: Probe | None) -> ClusterError | None:
    """In a task: None if this worker sees the run's probe file, else the error to return
    (returned, not raised, so that Dask does not retry it)."""
    if probe is None:
        return None
    answer = _probe(probe.path, None)
    if answer["token"] == probe.token:
        return None
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = "a worker"
    return ClusterError(f"Dask worker {worker} does not see the probe file "
                        f"{probe.path} ({answer['seen']}); the {probe.what} must be on a file "
                        "system shared with the workers, at the same path")


# ------------------------------------------------------------------ on a worker
_EXTRACTORS: "OrderedDict[tuple, tuple[Any, threading.Lock | None]]" = OrderedDict()
_STORES: dict[str, "FeatureStore"] = {}
_LOCK = threading.Lock()


def _worker_extractor(fs: "FeatureSet"):
    """The extractor of a feature set in this worker process (built once, then reused),
    and a lock for extractors that run one call at a time (``max_workers = 1``)."""
    from contaffect.features.smile import make_extractor

    key = (fs.id, fs.source, fs.runtime)
    with _LOCK:
        hit = _EXTRACTORS.get(key)
        if hit is None:
            extractor = make_extractor(fs)
            single = int(getattr(extractor, "max_workers", 0) or 0) == 1
            hit = _EXTRACTORS[key] = (extractor, threading.Lock() if single else None)
            while len(_EXTRACTORS) > CACHED_EXTRACTORS:
                _EXTRACTORS.popitem(last=False)
        _EXTRACTORS.move_to_end(key)
        return hit


def _worker_store(root: str) -> "FeatureStore":
    """The store at ``root`` in this worker process (opened once)."""
    from contaffect.features.store import FeatureStore

    with _LOCK:
        if root not in _STORES:
            _STORES[root] = FeatureStore(root)
        return _STORES[root]


def extract_task(corpus: str, items: Sequence[Item], fs: "FeatureSet", root: str,
                 probe: Probe | None = None) -> list | ClusterError:
    """On a worker: extract and write a task's files; each file's AudioInfo or its error.

    A file whose up-to-date entry is already in the store (written by an
    earlier attempt of this task, on a worker that then died) is not
    extracted again: its AudioInfo is read from the entry. A worker that does
    not see the run's probe file returns the error instead (see :func:`see`).
    """
    from contaffect.features.extract import _extract_group, _groups

    blind = see(probe)
    if blind is not None:
        return blind
    store = _worker_store(root)
    extractor, lock = _worker_extractor(fs)
    out: dict[str, Any] = {}
    todo = []
    for item in items:
        if store.has(corpus, item.id, fs, item.audio):
            out[item.id] = store.audio_info(corpus, item.id, fs)
        else:
            todo.append(item)
    with lock or nullcontext():
        for group in _groups(todo, extractor):
            for item, outcome in zip(group, _extract_group(corpus, group, fs, extractor, store)):
                out[item.id] = outcome
    return [out[item.id] for item in items]


def check_task(items: Sequence[Item], probe: Probe | None = None) -> list | ClusterError:
    """On a worker: the pre-flight decode check of a task's files (None for a good file)."""
    from contaffect.features.extract import _check

    return see(probe) or [_check(item) for item in items]


# ------------------------------------------------------------------ on the client
def extract_on_cluster(corpus: str, pending: "list[Recording]", store: "FeatureStore",
                       fs: "FeatureSet", report: "ExtractionReport", scheduler: str, *,
                       skip_bad: bool = False, progress: bool = True) -> None:
    """Extract the pending files of a corpus on a Dask cluster, filling ``report``.

    The semantics are those of the local path: without ``skip_bad`` every
    pending file is decoded first (on the workers) and one unusable file
    stops the run before anything is written; with it, bad files are listed
    in ``report.skipped``. See the module docstring for the probe, batching
    and retries.
    """
    client = connect(scheduler)
    store.init()
    root = store.root.resolve()
    with shared_folder(client, root, "feature store", fs) as probe:
        _extract(client, corpus, pending, root, fs, report, scheduler, probe, skip_bad, progress)


def _extract(client: "Client", corpus: str, pending: "list[Recording]", root: Path,
             fs: "FeatureSet", report: "ExtractionReport", scheduler: str, probe: Probe,
             skip_bad: bool, progress: bool) -> None:
    """:func:`extract_on_cluster` once the probe has passed."""
    from contaffect.features.extract import record, unusable_error

    items = [Item(r.id, Path(r.audio).resolve()) for r in pending]
    groups = task_groups(items, len(client.scheduler_info(n_workers=-1)["workers"]))
    log.info("%s / %s: %d file(s) in %d task(s) on %s", corpus, fs.name, len(items),
             len(groups), scheduler)
    run = uuid.uuid4().hex[:8]
    labels, sizes = [_label(g) for g in groups], [len(g) for g in groups]
    if not skip_bad:
        bad: dict[str, str] = {}

        def checked(i: int, whys: list) -> None:
            bad.update({item.id: why for item, why in zip(groups[i], whys) if why is not None})

        _gather(client, check_task, [(g, probe) for g in groups], labels, sizes,
                f"check-{corpus}-{run}", f"check {corpus}", progress, "file", checked)
        if bad:
            order = {item.id: i for i, item in enumerate(items)}
            raise unusable_error(dict(sorted(bad.items(), key=lambda kv: order[kv[0]])),
                                 len(items))

    def extracted(i: int, outcomes: list) -> None:
        for item, outcome in zip(groups[i], outcomes):
            record(report, item.id, outcome, skip_bad)

    _gather(client, extract_task, [(corpus, g, fs, str(root), probe) for g in groups], labels,
            sizes, f"extract-{corpus}-{run}", f"extract {corpus}", progress, "file", extracted)


def task_groups(items: list[Item], n_workers: int) -> list[list[Item]]:
    """The pending files cut into tasks: up to :data:`FILES_PER_TASK` files and
    :data:`SECONDS_PER_TASK` seconds of audio each (header durations, similar lengths
    together, a long file alone), but small enough that each of ``n_workers``
    workers gets :data:`TASKS_PER_WORKER` tasks when there are files for it."""
    from contaffect.features.extract import group_by_duration

    per_worker = -(-len(items) // max(1, TASKS_PER_WORKER * n_workers))
    return group_by_duration(items, max(1, min(FILES_PER_TASK, per_worker)), SECONDS_PER_TASK)


def _gather(client: "Client", fn: Callable, args: list[tuple], labels: list[str],
            sizes: list[int], prefix: str, desc: str, progress: bool, unit: str,
            on_result: Callable[[int, Any], None]) -> None:
    """Submit ``fn(*a)`` for each ``a`` and call ``on_result(index, result)`` as tasks finish.

    The progress bar advances by each task's size; ``labels`` name the tasks
    in errors. An error raised by ``on_result`` stops the run like a failed
    task. A task that still fails after its retries (or whose workers
    kept dying) is a one-line :class:`ClusterError`; on any error or
    interrupt the remaining tasks are cancelled (running ones finish, and
    what they write is written whole or not at all).
    """
    from distributed import as_completed

    futures = {client.submit(fn, *a, key=f"{prefix}-{i}", retries=RETRIES, pure=False): i
               for i, a in enumerate(args)}
    bar = tqdm(total=sum(sizes), desc=desc, unit=unit, disable=not progress, leave=False)
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            i = futures[fut]
            try:
                result = fut.result()
            except ContaffectError:
                raise
            except Exception as exc:          # noqa: BLE001 - any worker failure, one line
                raise ClusterError(f"{desc}: {labels[i]} failed on the cluster after "
                                   f"{RETRIES} retries: {type(exc).__name__}: "
                                   f"{_short(exc)}") from None
            if isinstance(result, ClusterError):      # a worker that does not see the folder
                raise result
            bar.update(sizes[i])
            on_result(i, result)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()


def _label(group: list[Item]) -> str:
    """How an extraction task is named in errors."""
    return f"a task of {len(group)} file(s) (first {group[0].audio})"


# ------------------------------------------------------------------ other file tasks
def _call(fn: Callable, args: tuple, probe: Probe | None = None):
    """On a worker: ``fn(*args)``, a ContaffectError returned (not retried) instead of raised."""
    blind = see(probe)
    if blind is not None:
        return blind
    try:
        return False, fn(*args)
    except ContaffectError as exc:
        return True, exc


def run_tasks(fn: Callable, args: list[tuple], *, scheduler: str = "", workers: int = 1,
              shared: Path | None = None, what: str = "output folder", desc: str = "",
              progress: bool = True, units: Sequence[int] | None = None,
              unit: str = "task") -> list:
    """``[fn(*a) for a in args]``, on local threads or as tasks on a Dask cluster.

    Parameters
    ----------
    fn
        A module-level function (Dask sends it to the workers by name); it
        writes its output into ``shared`` and returns something small.
    args
        One argument tuple per task.
    scheduler
        ``""``: ``workers`` local threads (one: in order, in this thread);
        dask is not imported. Otherwise a scheduler address or file: every
        worker must first see ``shared`` (see :func:`shared_folder`), then the
        tasks run there, with :data:`RETRIES` retries.
    workers
        Local threads (ignored with a scheduler).
    shared
        The folder the tasks write into (checked with a probe on a cluster).
    what
        What ``shared`` is, for the probe's error.
    desc, progress, units, unit
        Progress bar: its label, whether it shows, how far each task moves it
        (default 1) and the unit.

    Returns
    -------
    list
        The results, in the order of ``args``. A :class:`ContaffectError`
        raised by a task is raised here.
    """
    units = list(units) if units is not None else [1] * len(args)
    if not scheduler:
        return _run_local(fn, args, workers, desc, progress, units, unit)
    client = connect(scheduler)
    if shared is None:
        return _run_cluster(client, fn, args, None, desc, progress, units, unit)
    with shared_folder(client, shared, what) as probe:
        return _run_cluster(client, fn, args, probe, desc, progress, units, unit)


def _run_cluster(client: "Client", fn: Callable, args: list[tuple], probe: Probe | None,
                 desc: str, progress: bool, units: list[int], unit: str) -> list:
    """:func:`run_tasks` on a cluster, once the probe has passed."""
    name = getattr(fn, "__name__", "task").strip("_")
    labels = [f"task {i + 1} of {len(args)} ({name})" for i in range(len(args))]
    results: dict[int, Any] = {}

    def done(i: int, answer: tuple) -> None:
        failed, value = answer
        if failed:
            raise value
        results[i] = value

    _gather(client, _call, [(fn, a, probe) for a in args], labels, units,
            f"{name}-{uuid.uuid4().hex[:8]}", desc, progress, unit, done)
    return [results[i] for i in range(len(args))]


def _run_local(fn: Callable, args: list[tuple], workers: int, desc: str, progress: bool,
               units: list[int], unit: str) -> list:
    """:func:`run_tasks` without a scheduler: in order, or on ``workers`` threads."""
    bar = tqdm(total=sum(units), desc=desc, unit=unit, disable=not progress)
    try:
        if workers <= 1 or len(args) <= 1:
            out = []
            for a, n in zip(args, units):
                out.append(fn(*a))
                bar.update(n)
            return out
        results: dict[int, Any] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(fn, *a): i for i, a in enumerate(args)}
            try:
                remaining = set(futures)
                while remaining:
                    done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for fut in done:
                        results[futures[fut]] = fut.result()
                        bar.update(units[futures[fut]])
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        return [results[i] for i in range(len(args))]
    finally:
        bar.close()
