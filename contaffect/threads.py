r"""How many CPU threads torch should use: the cores this process may use, less the busy ones.

A foundation module (torch is imported only inside :func:`apply_threads`), so
that every layer that runs torch (SSL extraction, training, prediction) reads
one policy.

Why not torch's default: torch starts one thread per *physical core of the
machine*, whatever the process may use. Under a CPU affinity mask or a cgroup
quota (a SLURM job, a container) that oversubscribes; beside another busy
process it makes both slow, because the LSTM's small matrix products
synchronise their threads at every step and a thread that waits for a
descheduled peer wastes its slice. Measured on 2 cores (issue 16): 2 threads
alone 7 346 windows/s, 2 threads beside one busy process 2 282, 1 thread
beside it 4 389.

Policies (``[training] thread_policy``, used when ``threads = 0``;
:data:`THREAD_POLICIES`):

- ``allocation`` (the default): the cores this process may use,
  :math:`c_{\text{avail}}`, the smaller of the affinity mask's size and the
  cgroup CPU quota (:func:`available_cores`). Fixed for a run, so the same
  allocation gives the same numbers.
- ``load``: the cores left by other processes,

  .. math::

      n = \max\Big(1,\ \Big\lfloor c_{\text{avail}} - b_{\text{others}} + \tfrac12 \Big\rfloor\Big)

  where :math:`b_{\text{others}}` is the number of cores other processes
  kept busy over the last interval: the machine's busy time from
  ``/proc/stat`` less this process' own CPU time, over the interval's length
  (:class:`BusyMeter`). A training re-chooses :math:`n` after every epoch
  from the epoch itself, so it gives cores back when a competitor starts and
  takes them when it ends. The price: torch's CPU kernels reduce in an order
  that depends on the thread count, so two runs under different loads can
  differ in the last bits of the weights (tested), which training then
  amplifies; use it where throughput matters more than bit-identical reruns.

OpenMP's waiting threads are made passive (``OMP_WAIT_POLICY=PASSIVE``,
unless the user set it, before torch starts its thread pool; see
:func:`passive_openmp`): a thread that spins while it waits for its peers
takes the core a competitor needs, which is what makes a busy neighbour so
costly.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

from contaffect.registry import Registry

log = logging.getLogger(__name__)

#: cgroup files read by :func:`cgroup_quota` (v2 first, then v1); module-level for tests
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
PROC_STAT = Path("/proc/stat")


def affinity_cores() -> int:
    """CPUs in this process' affinity mask (``os.cpu_count()`` where there is no such mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):     # macOS, Windows
        return os.cpu_count() or 1


def cgroup_quota(v2: Path | None = None, v1: tuple[Path, Path] | None = None) -> float | None:
    """CPUs the cgroup quota allows (``quota / period``), or None without a quota.

    Reads cgroup v2's ``cpu.max`` (``"max 100000"`` is no quota) or v1's
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (a quota of -1 is none).
    """
    v2 = CGROUP_V2 if v2 is None else v2
    v1 = CGROUP_V1 if v1 is None else v1
    try:
        quota, period = v2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(v1[0].read_text())
        period = int(v1[1].read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cores() -> float:
    """Cores this process may use: its affinity mask, capped by the cgroup quota (at least 1)."""
    cores = float(affinity_cores())
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, quota)
    return max(1.0, cores)


def _machine_busy_seconds(stat: Path | None = None) -> float | None:
    """Seconds of CPU time spent busy (not idle, not iowait) by all CPUs since boot."""
    try:
        with open(PROC_STAT if stat is None else stat) as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest is counted in user already)
    busy = sum(ticks[:3]) + sum(ticks[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class BusyMeter:
    """Cores kept busy by *other* processes between :meth:`start` and :meth:`read`.

    ``(machine busy time - this process' CPU time) / wall time``; None where
    ``/proc/stat`` is not available (then nothing is subtracted). The machine
    counts every CPU, so a competitor pinned to cores this process may not use
    is counted too; the estimate is clipped to what this process could use.
    """

    def __init__(self) -> None:
        self._t = self._busy = self._own = None

    def start(self) -> BusyMeter:
        self._t, self._busy, self._own = time.monotonic(), _machine_busy_seconds(), _own_seconds()
        return self

    def read(self) -> float | None:
        """Other processes' busy cores since :meth:`start` (None if unmeasurable or too short)."""
        if self._t is None or self._busy is None:
            return None
        wall = time.monotonic() - self._t
        busy = _machine_busy_seconds()
        if busy is None or wall < 0.05:
            return None
        others = (busy - self._busy - (_own_seconds() - self._own)) / wall
        return max(0.0, others)


def choose_threads(others_busy: float | None, cores: float | None = None) -> int:
    """The thread count of the module docstring's formula (at least 1)."""
    cores = available_cores() if cores is None else cores
    free = cores - min(others_busy or 0.0, cores)
    return max(1, int(math.floor(free + 0.5)))


#: (monotonic time, thread count) of the last probe or epoch reading, reused for a few seconds
_LAST: list = [float("-inf"), 1]
#: how long a reading is reused (many short trainings in a row probe once)
REUSE_S = 5.0


def probe_threads(seconds: float = 0.1) -> int:
    """Measure other processes' load for ``seconds`` and return :func:`choose_threads`.

    A reading less than :data:`REUSE_S` old (a probe, or a training's last
    epoch) is reused instead of sleeping again.
    """
    if time.monotonic() - _LAST[0] < REUSE_S:
        return int(_LAST[1])
    meter = BusyMeter().start()
    time.sleep(seconds)
    return _remember(choose_threads(meter.read()))


def _remember(n: int) -> int:
    _LAST[:] = [time.monotonic(), n]
    return n


#: How ``threads = 0`` is resolved (see the module docstring).
THREAD_POLICIES = Registry("thread policy")
THREAD_POLICIES.add("allocation", doc="the cores this process may use (affinity mask, cgroup "
                                      "quota), fixed for the run")
THREAD_POLICIES.add("load", doc="those cores less the ones other processes keep busy, "
                                "re-chosen every epoch (numbers may differ in the last bits "
                                "between runs)")


def passive_openmp() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy; True if it takes effect.

    It only takes effect before torch is imported (OpenMP reads it when its
    thread pool starts); ``import contaffect`` calls this first thing, so the
    command line and every API user get it.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if "torch" in sys.modules:
        _SET_TOO_LATE[0] = True
        return False
    return True


#: set when :func:`passive_openmp` ran after torch had started OpenMP (so it had no effect)
_SET_TOO_LATE = [False]
_WARNED = [False]


def openmp_spins() -> bool:
    """Whether torch's OpenMP threads (probably) spin while they wait: no passive policy in force."""
    return (os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
            or _SET_TOO_LATE[0])


def _warn_spinning(n: int) -> None:
    if n > 1 and not _WARNED[0] and openmp_spins():
        _WARNED[0] = True
        log.warning("torch's %d OpenMP threads spin while they wait (OMP_WAIT_POLICY is not "
                    "PASSIVE at torch's start): beside a busy process this runs 20-30x slower "
                    "(benchmarks/threads.py); import contaffect before torch, set "
                    "OMP_WAIT_POLICY=PASSIVE, or use thread_policy = 'load'", n)


def apply_threads(n: int) -> int:
    """Set torch's intra-op thread count (imports torch); returns it."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


class ThreadPolicy:
    """Keeps torch's thread count right during a long job, e.g. a training's epochs.

    Parameters
    ----------
    threads
        A fixed count (>= 1), or 0 to choose by ``policy``.
    policy
        A :data:`THREAD_POLICIES` name (used when ``threads`` is 0).

    Examples
    --------
    >>> policy = ThreadPolicy(0, "load").start()  # probes for 0.1 s, sets the count
    >>> for epoch in range(n_epochs):
    ...     train_one_epoch()
    ...     policy.update()                       # re-chosen from the epoch's load
    """

    def __init__(self, threads: int = 0, policy: str = "allocation") -> None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        THREAD_POLICIES.entry(policy)
        if threads == 0 and policy == "allocation":
            threads = max(1, int(available_cores()))
        self.threads = threads
        self.history: list[int] = []
        self._meter = BusyMeter()

    def start(self) -> ThreadPolicy:
        n = self.threads or probe_threads()
        if self.threads:                  # a fixed count cannot give cores back to a neighbour
            _warn_spinning(n)
        self.history.append(apply_threads(n))
        self._meter.start()
        return self

    def update(self) -> int:
        """Re-choose the count from the load since the last call (fixed counts stay)."""
        if self.threads:
            n = self.threads
        else:
            others = self._meter.read()
            n = _remember(choose_threads(others)) if others is not None else self.history[-1]
            if n != self.history[-1]:
                log.info("torch threads %d -> %d (other processes keep %.1f core(s) busy)",
                         self.history[-1], n, others)
        self.history.append(apply_threads(n))
        self._meter.start()
        return n
