"""Generate a synthetic corpus from a preset and write it in its real layout.

Everything random comes from ``numpy.random.SeedSequence((seed, preset, i))``
per recording, so a corpus is bit-reproducible from its seed, whatever the
number of workers. Next to the corpus, ``synth/`` holds what no real corpus
has: the latent truth of every recording (``truth/<id>.npz``), the test
labels withheld from the ComParE layout, and ``report.json`` with the
ceiling (CC between the fused, lag-corrected gold standard and the truth).

Generation streams: recordings are rendered on worker threads, consumed in
plan order with a bounded lookahead (:func:`render_in_order`), and each is
written (audio, traces, truth) as soon as it is consumed and then dropped.
What is kept until the end is small: a few fields per recording for the
index files and the report, and the ceiling's 25 Hz arrays
(:class:`CeilingAccumulator`). Peak memory is about ``2 * workers + 1``
rendered recordings above that, whatever the corpus' size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
from tqdm.auto import tqdm

from contaffect import __version__
from contaffect.errors import ConfigError
from contaffect.registry import Registry
from contaffect.labels import Trace, fuse_raters, resample, shift_lag
from contaffect.synth.annotate import effective_lag, rate_traces
from contaffect.synth.channel import apply_channel
from contaffect.synth.latent import LATENT_RATE, AffectStyle, latent_affect
from contaffect.synth.layouts import WRITERS, LayoutWriter, SynthRecording
from contaffect.synth.presets import Preset, get_preset
from contaffect.synth.voice import Speaker, random_speaker, synthesize

log = logging.getLogger(__name__)

SIDE_DIR = "synth"
# Bump whenever a change of the generator changes its output for the same seed:
# cached corpora made by another version are generated again.
# 3: the ceiling in report.json masks the lag's end (the default lag_mode since issue 15).
SYNTH_VERSION = 3
MIN_DURATION_S = 12.0
CLASSES = ("l", "m", "h")
#: Renders in flight per worker: results wait at most this many deep to be consumed in order.
LOOKAHEAD_PER_WORKER = 2

T = TypeVar("T")


def _key(preset: Preset) -> int:
    return int.from_bytes(hashlib.sha256(preset.name.encode()).digest()[:4], "little")


def _rng(seed: int, preset: Preset, *index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence((seed, _key(preset), *index)))


def _plan(preset: Preset, scale: float, seed: int) -> list[dict]:
    """Who speaks in which recording, for how long, in which partition."""
    rng = _rng(seed, preset, 10**6)
    n_spk = max(3, int(round(preset.n_speakers * max(1.0, scale))))
    if preset.layout == "compare":
        n_spk = max(8, int(round(preset.n_speakers * scale)))
    dur_scale = min(1.0, scale) if preset.layout != "compare" else 1.0
    n_female = int(round(preset.female_ratio * n_spk))
    speakers = [random_speaker(f"spk{i}", rng, female=i < n_female, f0_shift_st=preset.f0_shift_st)
                for i in range(n_spk)]
    order = rng.permutation(n_spk)
    part_of = {}
    if preset.partitions:
        bounds = np.cumsum(list(preset.partitions.values())) * n_spk
        for rank, i in enumerate(order):
            k = int(np.searchsorted(bounds, rank, side="right"))
            part_of[i] = list(preset.partitions)[min(k, len(bounds) - 1)]
    plan = []
    for i, spk in enumerate(speakers):
        for s in range(preset.recordings_per_speaker):
            lo, hi = preset.duration_s
            dur = rng.uniform(lo, hi) * dur_scale
            if preset.layout != "compare":
                dur = max(MIN_DURATION_S, dur)
            plan.append(dict(speaker=spk, session=s, partition=part_of.get(i), duration=dur))
    return plan


def _self_assessment(preset: Preset, plan: list[dict], seed: int) -> None:
    """Narrative-level valence and the self-assessed classes (USoMS-like presets).

    A subject's mood plus the narrative's polarity (two positive, two negative
    narratives, as in USoMS) sets the narrative's mean valence; the reported
    score adds self-report noise and is cut at the quantiles that give the
    preset's class shares.
    """
    rng = _rng(seed, preset, 2 * 10**6)
    moods = {}
    for item in plan:
        spk = item["speaker"].id
        if spk not in moods:
            moods[spk] = 0.5 * rng.standard_normal()
        polarity = 1.0 if item["session"] % 2 == 0 else -1.0
        item["valence_mean"] = moods[spk] + 0.3 * polarity
        item["report"] = item["valence_mean"] + 0.25 * rng.standard_normal()
    reports = np.array([it["report"] for it in plan])
    cuts = np.quantile(reports, np.cumsum(preset.class_shares)[:2])
    for it in plan:
        it["label"] = CLASSES[int(np.searchsorted(cuts, it["report"]))]


def _render(preset: Preset, item: dict, index: int, seed: int) -> SynthRecording:
    rng = _rng(seed, preset, index)
    style = preset.affect
    if "valence_mean" in item:  # a narrative: valence around its mean level
        style = AffectStyle(av_corr=style.av_corr, timescale_s=style.timescale_s,
                            spread=style.spread, skew=(0.0, float(item["valence_mean"])))
    times, arousal, valence = latent_affect(item["duration"], style, rng)
    speaker: Speaker = item["speaker"]
    dry = synthesize(arousal, valence, LATENT_RATE, speaker, preset.prosody, rng)
    audio = apply_channel(dry, preset.channel, rng)
    ratings, draws = {}, {}
    if preset.panel is not None:
        for dim, truth in ((0, arousal), (1, valence)):
            name = ("arousal", "valence")[dim]
            traces = rate_traces(truth, LATENT_RATE, preset.panel, dim, rng)
            ratings[name], draws[name] = traces[:3], traces[3]
    return SynthRecording(index=index, speaker=speaker, session=item["session"],
                          partition=item["partition"], audio=audio, truth_times=times,
                          arousal=arousal, valence=valence, ratings=ratings,
                          rater_draws=draws, label=item.get("label"))


class CeilingAccumulator:
    """The ceiling of :func:`ceiling`, gathered one recording at a time.

    Each recording's gold standard (resampled, mean-fused, lag-shifted, as an
    experiment makes it by default but with the panel's true mean lag) and
    the truth on its frames are kept as float64 arrays at ``rate``: for both
    dimensions 32 bytes per frame, 800 bytes per second of audio at 25 Hz
    (1.3 % of the float32 audio; about 0.3 GB at 100 hours). They are kept,
    rather than running sums, so that the pooled CC is computed over the
    concatenated frames exactly as before, to the last bit.

    Parameters
    ----------
    preset
        A dimensional preset with a rater panel.
    rate
        Frame rate of the gold standard (Hz).
    """

    DIMS = ("arousal", "valence")

    def __init__(self, preset: Preset, rate: float = 25.0) -> None:
        self.preset = preset
        self.rate = rate
        self._golds: dict[str, list[np.ndarray]] = {d: [] for d in self.DIMS}
        self._truths: dict[str, list[np.ndarray]] = {d: [] for d in self.DIMS}
        self._per: dict[str, list[float]] = {d: [] for d in self.DIMS}

    def add(self, rec: SynthRecording) -> None:
        """Gold standard and truth of one recording (its ratings and truth are not kept)."""
        for d, dim in enumerate(self.DIMS):
            times, values, lengths = rec.ratings[dim]
            n = min(lengths)  # ragged raters are cut to the shortest, as the loader does
            tr = Trace(times[:n], values[:n])
            gold = shift_lag(fuse_raters(resample(tr, self.rate)), self.preset.panel.lag_s[d],
                             mode="mask")
            truth = np.interp(gold.times, rec.truth_times, rec.arousal if d == 0 else rec.valence)
            g = gold.values[:, 0]
            self._golds[dim].append(g)
            self._truths[dim].append(truth)
            self._per[dim].append(float(np.corrcoef(g, truth)[0, 1]))

    def result(self) -> dict:
        """``{dim: {pooled, per_recording}}``; the kept arrays are released."""
        out = {}
        for dim in self.DIMS:
            golds = np.concatenate(self._golds[dim])
            self._golds[dim] = []
            truths = np.concatenate(self._truths[dim])
            self._truths[dim] = []
            out[dim] = dict(pooled=float(np.corrcoef(golds, truths)[0, 1]),
                            per_recording=float(np.mean(self._per[dim])))
        return out


def ceiling(preset: Preset, recs: Sequence[SynthRecording], rate: float = 25.0) -> dict:
    """CC between the gold standard (resampled, mean-fused, lag-shifted) and the truth.

    The gold standard is made exactly as an experiment would by default,
    except that the lag is the panel's true mean lag. ``pooled`` is over all
    frames of the corpus, ``per_recording`` the mean over recordings. The
    generator computes the same figures recording by recording
    (:class:`CeilingAccumulator`).
    """
    acc = CeilingAccumulator(preset, rate)
    for rec in recs:
        acc.add(rec)
    return acc.result()


def render_in_order(fn: Callable[[int, dict], T], plan: Sequence[dict],
                    workers: int) -> Iterator[T]:
    """``fn(i, item)`` for every plan item, rendered on threads, yielded in plan order.

    At most ``LOOKAHEAD_PER_WORKER * workers`` items are in flight (submitted
    and not yet yielded), so finished results never pile up behind a slow one:
    memory is bounded by that many results, whatever the plan's length.

    Parameters
    ----------
    fn
        Renders item ``i``; must depend on nothing but its arguments (the
        order of execution is not the order of the plan).
    plan
        The items.
    workers
        Threads (at least 1).

    Yields
    ------
    T
        ``fn(0, plan[0])``, ``fn(1, plan[1])``, ...
    """
    workers = max(1, workers)
    depth = LOOKAHEAD_PER_WORKER * workers
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: deque[Future] = deque()
    try:
        for i, item in enumerate(plan):
            pending.append(pool.submit(fn, i, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:        # an error or an abandoned generator: stop what waits
            fut.cancel()
        pool.shutdown(wait=True)


@dataclass(frozen=True)
class _Kept:
    """What the end of generation needs of one written recording."""

    rec_id: str
    speaker: str
    samples: int
    partition: str | None
    label: str | None
    seconds: float = 0.0                                     # the truth's duration
    draws: dict | None = None                                # dimension -> rater draws


def _write_one(writer: LayoutWriter, rec: SynthRecording, truth_dir: Path,
               acc: CeilingAccumulator | None) -> _Kept:
    """Write one recording (layout files, truth), feed the ceiling; return what is kept."""
    writer.add(rec)
    np.savez_compressed(truth_dir / f"{rec.rec_id}.npz", times=rec.truth_times,
                        arousal=rec.arousal, valence=rec.valence,
                        **{f"draws_{dim}": d for dim, d in rec.rater_draws.items()})
    if acc is not None:
        acc.add(rec)
    return _Kept(rec.rec_id, rec.speaker.id, int(rec.audio.size), rec.partition, rec.label,
                 float(rec.truth_times[-1]), rec.rater_draws)


def _write_all(preset: Preset, plan: list[dict], out: Path, seed: int, workers: int,
               progress: bool) -> tuple[list[_Kept], CeilingAccumulator | None]:
    """Render the plan on ``workers`` threads and write each recording as it comes, in order.

    Returns what is kept of every recording and the filled ceiling accumulator
    (None without a rater panel). The layout's index files are written too.
    """
    truth_dir = out / SIDE_DIR / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    writer = WRITERS[preset.layout](out)
    acc = CeilingAccumulator(preset) if preset.panel is not None else None
    stream = render_in_order(lambda i, item: _render(preset, item, i, seed), plan, workers)
    kept = [_write_one(writer, rec, truth_dir, acc)
            for rec in tqdm(stream, total=len(plan), desc=f"synth {preset.name}", unit="rec",
                            disable=not progress, leave=False)]
    writer.finish()
    return kept, acc


def generate(
    preset,
    out: str | Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Generate a synthetic corpus from any preset (dimensional or categorical).

    Dispatches on the preset's ``kind`` through :data:`KINDS`; see
    :func:`generate_dimensional` and
    :func:`contaffect.synth.categorical.generate_categorical`.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if scale <= 0:
        raise ConfigError(f"scale must be positive, got {scale}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} exists and is not empty; choose a new folder or overwrite")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)   # fail on an unwritable folder before rendering
    return KINDS.get(preset.kind)(preset, out, scale=scale, seed=seed, workers=workers,
                                  progress=progress)


def generate_dimensional(
    preset: str | Preset,
    out: str | Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Render a dimensional preset into ``out`` (an empty folder, prepared by
    :func:`generate`) in its real counterpart's layout.

    Parameters
    ----------
    preset
        ``recola_like``, ``semaine_like``, ``creativeit_like`` or ``usoms_like``
        (or a :class:`~contaffect.synth.presets.Preset`).
    out
        Output folder, empty (:func:`generate` checks and prepares it).
    scale
        Size: 1 is the default used by the demo; above 1 adds speakers, below
        1 shortens recordings (not under 12 s) or, for ``usoms_like``, drops
        subjects.
    seed
        Everything random derives from it: the same seed gives the same bytes.
    workers
        Recordings rendered in parallel (threads); each is written as soon as
        it is its turn and then dropped, so at most ``2 * workers`` rendered
        recordings wait in memory.
    progress
        Show a progress bar.

    Returns
    -------
    dict
        The report also written to ``out/synth/report.json``: preset, seed,
        scale, recordings, hours, ceiling (dimensional presets) or class
        counts (categorical presets). Dimensional presets also give
        ``true_lag_s``, the panel's nominal mean lag per dimension, and
        ``realised_lag_s``, the lag the corpus' mean traces really have
        (:func:`realised_lags`).
    """
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    out = Path(out)
    t0 = time.perf_counter()
    plan = _plan(preset, scale, seed)
    if preset.class_shares:
        _self_assessment(preset, plan, seed)
    kept, acc = _write_all(preset, plan, out, seed, workers, progress)
    side = out / SIDE_DIR
    report = dict(
        preset=preset.name, layout=preset.layout, seed=seed, scale=scale,
        synth_version=SYNTH_VERSION, contaffect=__version__, recordings=len(kept),
        speakers=len({k.speaker for k in kept}),
        hours=round(sum(k.samples for k in kept) / 16000 / 3600, 4),
        description=preset.description,
    )
    if acc is not None:
        report["ceiling"] = acc.result()
        report["true_lag_s"] = dict(zip(("arousal", "valence"), preset.panel.lag_s))
        realised = _realised([k.draws for k in kept], [k.seconds for k in kept])
        report["realised_lag_s"] = {d: round(v, 4) for d, v in realised.items()}
    else:
        labels = [k.label for k in kept]
        report["classes"] = {c: labels.count(c) for c in CLASSES}
        with open(side / "test_labels.tsv", "w") as fh:
            fh.write("file_name\tValence\n")
            for k in kept:
                if k.partition == "test":
                    fh.write(f"{k.rec_id}.wav\t{k.label}\n")
    report["preset_parameters"] = json.loads(json.dumps(asdict(preset), default=str))
    report["seconds"] = round(time.perf_counter() - t0, 2)
    (side / "report.json").write_text(json.dumps(report, indent=2))
    return report


#: Generators by preset kind.
KINDS = Registry("synthetic corpus kind")
KINDS.add("dimensional", generate_dimensional, "traces rated by a panel, real layouts")
KINDS.add("categorical", "contaffect.synth.categorical:generate_categorical",
          "utterances of emotion categories, generic folder layout")


def is_current(report: dict, preset) -> bool:
    """True if a stored generator report was made by this generator with this preset.

    A corpus with raters written before the generator kept their draws (no
    ``realised_lag_s``) is not current: its audio and labels are the same, but
    its truth lacks what the lag report is measured against.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if getattr(preset, "panel", None) is not None and "realised_lag_s" not in report:
        return False
    return (report.get("synth_version") == SYNTH_VERSION and report.get("preset_parameters")
            == json.loads(json.dumps(asdict(preset), default=str)))


def _read_truth(corpus_root: str | Path, rec_id: str) -> tuple[Path, dict[str, np.ndarray]]:
    """The path and every array of one recording's truth file (one read)."""
    path = Path(corpus_root) / SIDE_DIR / "truth" / f"{rec_id}.npz"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: not a synthetic corpus, or unknown id")
    with np.load(path) as z:
        return path, {k: z[k] for k in z.files}


def load_truth(corpus_root: str | Path, rec_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latent truth of one synthetic recording: times, arousal, valence (100 Hz)."""
    z = _read_truth(corpus_root, rec_id)[1]
    return z["times"], z["arousal"], z["valence"]


def load_rater_draws(corpus_root: str | Path, rec_id: str) -> dict[str, np.ndarray]:
    """Each dimension's drawn rater lags (s) and gains of one recording, ``(n_raters, 2)``.

    What :func:`contaffect.synth.annotate.rate_traces` drew; with
    :func:`~contaffect.synth.annotate.effective_lag` it gives the lag that the
    recording's mean trace really has, not only the panel's nominal mean.
    """
    return _draws(*_read_truth(corpus_root, rec_id))


def _draws(path: Path, z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``draws_<dim>`` arrays of a read truth file (a one-line error if it has none)."""
    draws = {k[len("draws_"):]: v for k, v in z.items() if k.startswith("draws_")}
    if not draws:
        raise ConfigError(f"{path} holds no rater draws: a corpus without raters, or written "
                          "by an older generator (generate it again: contaffect synth ... "
                          "--overwrite)")
    return draws


def realised_lags(corpus_root: str | Path, rec_ids: list[str] | None = None) -> dict[str, float]:
    r"""The lag per dimension that a synthetic corpus' mean traces really have.

    Each recording's :func:`~contaffect.synth.annotate.effective_lag` (its
    raters' drawn lags weighted by their gains), averaged over the recordings
    weighted by their durations :math:`T_i`:
    :math:`\bar l = \sum_i T_i l_i / \sum_i T_i`. It differs from the panel's
    nominal ``lag_s`` because each recording's few raters draw their own lags.

    Parameters
    ----------
    corpus_root
        A corpus written by :func:`generate`.
    rec_ids
        The recordings to average over (default: all of them).
    """
    truth_dir = Path(corpus_root) / SIDE_DIR / "truth"
    ids = rec_ids if rec_ids is not None else sorted(p.stem for p in truth_dir.glob("*.npz"))
    if not ids:
        raise ConfigError(f"{truth_dir} holds no truth files: not a synthetic corpus")
    files = [_read_truth(corpus_root, rid) for rid in ids]     # each file read once
    return _realised([_draws(*f) for f in files], [float(f[1]["times"][-1]) for f in files])


def _realised(draws: list[dict[str, np.ndarray]], seconds: list[float]) -> dict[str, float]:
    """:func:`realised_lags` from each recording's draws and duration (the one formula)."""
    return {dim: float(np.average([effective_lag(d[dim]) for d in draws], weights=seconds))
            for dim in draws[0]}
