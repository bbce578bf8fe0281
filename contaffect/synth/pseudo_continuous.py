"""Pseudo-continuous corpora: long sessions and annotation traces built from categorical corpora.

Acted corpora (RAVDESS, EMOVO, ...) have short utterances with one category
each. To train and test time-continuous models on them, each speaker's
utterances are concatenated, in a seeded order, into sessions of about
``session_s`` seconds, separated by pauses of low-level noise (optionally with
a random gain per utterance). The latent arousal / valence of a session is
the class value of each utterance's category (through a category mapping,
:mod:`contaffect.labels.mapping`), held over the utterance and interpolated
over the pauses. Raters are then simulated on that latent curve with the
annotator model of the synthetic corpora
(:class:`~contaffect.synth.annotate.RaterPanel`: reaction lag, hand
smoothing, drift noise, personal bias and gain, shared noise), so the traces
exercise rater fusion and lag correction the way real annotations do.

The result is written in the generic folder layout (``labels.csv``, ``audio/``,
``traces/<dimension>/``) with ``sessions.csv`` (which utterance lies where)
and ``report.json``; :func:`~contaffect.corpus.load_corpus` reads it as an
ordinary dimensional corpus, and it is built once.

Deliberate handling of real-audio quirks: byte-identical duplicate files
(RAVDESS has a pair) are used once and listed in the report; clipped files are
kept and counted; stereo and 44.1 / 48 kHz input is read as 16 kHz mono by
:func:`~contaffect.features.audio.read_audio`; utterances shorter than the
model's context window are no problem inside a session.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import soundfile as sf

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError, CorpusError
from contaffect.synth.annotate import RaterPanel, rate_traces

log = logging.getLogger(__name__)

SR = 16000
TRUTH_RATE = 100.0
VERSION = 1


@dataclass(frozen=True)
class SessionSpec:
    """How sessions and their traces are built.

    Attributes
    ----------
    dimensions
        Label names that hold the ordinal classes (added by a mapping), e.g.
        ``("arousal", "valence")``.
    classes
        Dimension -> classes in ascending order (from the mapping).
    points
        Optional dimension -> {class: value}; by default the classes are spread
        evenly over [-0.5, 0.5] (two classes: -0.5, 0.5; three: -0.5, 0, 0.5).
    session_s
        Target session length; utterances are added until it is reached.
    pause_s
        Range of the pause before each utterance (uniform).
    noise_dbfs
        Level of the Gaussian noise in the pauses (dB re full scale).
    gain_jitter_db
        Range of a random gain applied to each utterance (0: none).
    panel
        The annotator model.
    seed
        Order, pauses, gains and raters.
    """

    dimensions: tuple = ("arousal", "valence")
    classes: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    session_s: float = 60.0
    pause_s: tuple = (0.3, 1.0)
    noise_dbfs: float = -60.0
    gain_jitter_db: float = 0.0
    panel: RaterPanel = RaterPanel(rate_hz=25.0, n_raters=3, lag_s=(2.0, 2.0),
                                   lag_jitter_s=0.4, smooth_s=0.6, noise=0.1, bias=0.05,
                                   shared_noise=0.05)
    seed: int = 0

    def values(self, dim: str) -> dict[str, float]:
        """Class -> latent value for one dimension."""
        if dim in self.points:
            return {str(k): float(v) for k, v in self.points[dim].items()}
        classes = list(self.classes.get(dim, []))
        if len(classes) < 2:
            raise ConfigError(f"no classes for {dim!r}: give the mapping's classes or points")
        return dict(zip(classes, np.linspace(-0.5, 0.5, len(classes)).tolist()))

    def fingerprint(self) -> str:
        """Hash of everything that changes the built corpus."""
        data = asdict(self)
        data["version"] = VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Piece:
    """One stretch of a session's audio, as planned.

    Attributes
    ----------
    n
        Its length in samples at 16 kHz.
    noise_state
        Pause noise: the random generator's bit-generator state before the
        draw (the task draws the same ``n`` samples again from it); None for
        speech.
    audio
        Speech: the source file (read as 16 kHz mono).
    gain
        Speech: the random gain factor (None: no gain jitter).
    utterance
        Speech: the source recording id (for the clipping count).
    """

    n: int
    noise_state: dict | None = None
    audio: str = ""
    gain: float | None = None
    utterance: str = ""


@dataclass(frozen=True)
class SessionPlan:
    """Everything needed to render one session's audio, decided before any audio is read."""

    session: str
    pieces: tuple
    noise_amp: float

    @property
    def n_samples(self) -> int:
        return sum(p.n for p in self.pieces)


def _noise(rng: np.random.Generator, n: int) -> Piece:
    """A pause of ``n`` noise samples: the generator's state is kept and the draw made (and
    dropped), so that every later draw is the one an in-order build makes."""
    state = rng.bit_generator.state
    rng.standard_normal(n)
    return Piece(n, noise_state=state)


def render_session(plan: SessionPlan, out: str) -> list[str]:
    """Write one session's audio (``out/audio/<session>.wav``); the clipped utterances' ids.

    Runs anywhere (a local thread, a Dask worker): the pause noise is drawn
    again from the planned generator states, so the bytes are those of an
    in-order build.
    """
    from contaffect.features.audio import read_audio

    pieces, clipped = [], []
    for p in plan.pieces:
        if p.noise_state is not None:
            gen = np.random.Generator(getattr(np.random, p.noise_state["bit_generator"])())
            gen.bit_generator.state = p.noise_state
            pieces.append(plan.noise_amp * gen.standard_normal(p.n))
            continue
        audio, _info = read_audio(p.audio)
        if audio.size != p.n:
            raise CorpusError(f"{p.audio}: {audio.size} samples at {SR} Hz, its header promised "
                              f"{p.n}; the file changed while the sessions were built")
        if np.any(np.abs(audio) >= 0.999):            # reaches full scale
            clipped.append(p.utterance)
        if p.gain is not None:
            audio = audio * p.gain
        pieces.append(audio)
    audio = np.clip(np.concatenate(pieces), -1, 1).astype(np.float32)
    sf.write(str(Path(out) / "audio" / f"{plan.session}.wav"), audio, SR, subtype="PCM_16")
    return clipped


def build_sessions(source: Corpus, out: str | Path, spec: SessionSpec, *,
                   name: str | None = None, progress: bool = True, scheduler: str = "",
                   workers: int = 1) -> dict:
    """Write a pseudo-continuous corpus made of ``source``'s utterances.

    Every session is planned first, in order (utterance order, pauses, gains,
    noise generator states and the raters' traces: every random draw, in one
    sequence from ``spec.seed``), from the audio headers; then the sessions'
    audio is rendered as tasks (:func:`render_session`), on local threads or
    on a Dask cluster. The output is the same byte for byte whatever runs it.

    Parameters
    ----------
    source
        A categorical corpus whose recordings carry the ``spec.dimensions``
        class labels (apply a category mapping first).
    out
        Output folder (created; an existing build with the same fingerprint is
        kept, another one is refused unless empty).
    spec
        How to build.
    name
        Corpus name written to the report (default: ``<source>_sessions``).
    progress
        Show a progress bar.
    scheduler
        ``""``: render on ``workers`` local threads. Otherwise a Dask
        scheduler address or file (``[features] scheduler``): the workers
        render, after a probe checks that they see ``out``.
    workers
        Local threads rendering sessions.

    Returns
    -------
    dict
        The report (also ``out/report.json``).
    """
    from contaffect.features.distributed import run_tasks

    out = Path(out)
    report_path = out / "report.json"
    fp = spec.fingerprint()
    if report_path.is_file():
        old = json.loads(report_path.read_text())
        if old.get("fingerprint") == fp and old.get("source_ids") == sorted(r.id for r in source):
            return old
    if out.exists() and any(out.iterdir()) and not report_path.is_file():
        raise CorpusError(f"{out} is not empty and holds no pseudo-continuous build; "
                          "choose an empty folder")
    missing = [r.id for r in source for d in spec.dimensions if r.labels.get(d) is None]
    if missing:
        raise ConfigError(f"{len(missing)} recording(s) of {source.name!r} lack "
                          f"{'/'.join(spec.dimensions)} class labels (e.g. {missing[0]}); apply "
                          "a category mapping first")
    values = {d: spec.values(d) for d in spec.dimensions}
    for d in spec.dimensions:
        unknown = {r.labels[d] for r in source} - set(values[d])
        if unknown:
            raise ConfigError(f"{d} classes {sorted(unknown)} have no value (have {values[d]})")
    if out.exists():
        import shutil

        shutil.rmtree(out)
    (out / "audio").mkdir(parents=True)
    recs, duplicates = _unique(source)
    plans, rows, spans = _plan(recs, out, spec, values)
    done = run_tasks(render_session, [(plan, str(out.resolve())) for plan in plans],
                     scheduler=scheduler, workers=workers, shared=out,
                     what="pseudo-continuous output folder", desc=f"sessions {source.name}",
                     progress=progress, unit="utt",
                     units=[sum(1 for p in plan.pieces if p.noise_state is None)
                            for plan in plans])
    clipped = [rid for ids in done for rid in ids]
    labels = pd.DataFrame(rows)
    if not labels["partition"].astype(bool).any():
        labels = labels.drop(columns="partition")
    labels.to_csv(out / "labels.csv", index=False)
    pd.DataFrame(spans).to_csv(out / "sessions.csv", index=False)
    report = dict(name=name or f"{source.name}_sessions", source=source.name,
                  fingerprint=fp, version=VERSION, spec=asdict(spec),
                  source_ids=sorted(r.id for r in source), sessions=len(rows),
                  utterances=len(recs), hours=round(float(labels["duration_s"].sum()) / 3600, 4),
                  duplicates_skipped=duplicates, clipped_files=clipped,
                  values={d: values[d] for d in spec.dimensions})
    report_path.write_text(json.dumps(report, indent=2, default=str))
    return report


def _unique(source: Corpus) -> tuple[list, list]:
    """The recordings with byte-identical duplicates left out, and the duplicate pairs."""
    seen, duplicates = {}, []
    recs = []
    for r in source:
        h = _sha(r.audio)
        if h in seen:
            duplicates.append([seen[h], r.id])
            continue
        seen[h] = r.id
        recs.append(r)
    if duplicates:
        log.warning("%s: %d byte-identical duplicate file(s) used once: %s", source.name,
                    len(duplicates), duplicates)
    return recs, duplicates


def _sessions_of(utts: list, order: np.ndarray, spec: SessionSpec) -> list[list]:
    """One speaker's utterances (in ``order``) cut into sessions of about ``session_s``."""
    sessions, current, length = [], [], 0.0
    for i in order:
        r = utts[i]
        current.append(r)
        length += float(r.labels.get("duration_s") or 3.0) + np.mean(spec.pause_s)
        if length >= spec.session_s:
            sessions.append(current)
            current, length = [], 0.0
    if current:
        if sessions and length < spec.session_s / 2:
            sessions[-1].extend(current)          # a short remainder joins the last session
        else:
            sessions.append(current)
    return sessions


def _plan(recs: list, out: Path, spec: SessionSpec,
          values: dict) -> tuple[list[SessionPlan], list[dict], list[dict]]:
    """Plan every session in order and write its traces: the plans, labels rows and spans.

    All random draws happen here, in the order of an in-order build (speaker
    order, utterance order, pause, its noise, gain, the tail, the raters);
    lengths come from the headers (:func:`~contaffect.features.audio.read_length`).
    """
    from contaffect.features.audio import read_length

    rng = np.random.default_rng(spec.seed)
    by_speaker: dict[str, list] = {}
    for r in recs:
        by_speaker.setdefault(r.speaker, []).append(r)
    noise_amp = 10 ** (spec.noise_dbfs / 20)
    plans, rows, spans = [], [], []
    for speaker in sorted(by_speaker):
        utts = by_speaker[speaker]
        for k, sess in enumerate(_sessions_of(utts, rng.permutation(len(utts)), spec)):
            sid = f"{speaker}_s{k + 1:02d}"
            pieces, t, anchors = [], 0.0, []
            for r in sess:
                n_pause = int(round(rng.uniform(*spec.pause_s) * SR))
                pieces.append(_noise(rng, n_pause))
                t += n_pause / SR
                n = read_length(r.audio)
                gain = (10 ** (rng.uniform(-1, 1) * spec.gain_jitter_db / 20)
                        if spec.gain_jitter_db else None)
                pieces.append(Piece(n, audio=str(r.audio), gain=gain, utterance=r.id))
                start, end = t, t + n / SR
                anchors.append((start, end, {d: values[d][r.labels[d]] for d in spec.dimensions}))
                spans.append(dict(session=sid, utterance=r.id, start_s=round(start, 6),
                                  end_s=round(end, 6), **{d: r.labels[d] for d in spec.dimensions},
                                  **({"emotion": r.labels["emotion"]} if "emotion" in r.labels
                                     else {})))
                t = end
            pieces.append(_noise(rng, int(round(rng.uniform(*spec.pause_s) * SR))))
            plan = SessionPlan(sid, tuple(pieces), noise_amp)
            duration = plan.n_samples / SR
            _write_traces(out, sid, anchors, duration, spec, rng)
            first = sess[0]
            plans.append(plan)
            rows.append(dict(file=f"audio/{sid}.wav", speaker=speaker, gender=first.gender or "",
                             partition=first.partition or "", n_utterances=len(sess),
                             duration_s=round(duration, 3)))
    return plans, rows, spans


def _write_traces(out: Path, sid: str, anchors: list, duration: float, spec: SessionSpec,
                  rng: np.random.Generator) -> None:
    """The raters' traces of one session (``out/traces/<dimension>/<session>.csv``)."""
    tt = np.arange(int(np.floor(duration * TRUTH_RATE)) + 1) / TRUTH_RATE
    for j, d in enumerate(spec.dimensions):
        xs = [a for s, e, v in anchors for a in (s, e)]
        ys = [v[d] for s, e, v in anchors for _ in (0, 1)]
        truth = np.interp(tt, xs, ys)          # held over utterances, ramps over pauses
        times, vals, _, _ = rate_traces(truth, TRUTH_RATE, spec.panel, min(j, 1), rng)
        tdir = out / "traces" / d
        tdir.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(vals, columns=[f"rater{i + 1}" for i in range(vals.shape[1])])
        frame.insert(0, "time", times)
        frame.to_csv(tdir / f"{sid}.csv", index=False, float_format="%.5f")


def session_spec(mapping_classes: dict[str, Sequence[str]], options: dict) -> SessionSpec:
    """A :class:`SessionSpec` from config options (``session_s``, ``pause_s``, ``raters``, ...)."""
    opts = dict(options)
    panel_keys = {"raters": "n_raters", "lag_s": "lag_s", "smooth_s": "smooth_s",
                  "rater_noise": "noise", "rate_hz": "rate_hz", "shared_noise": "shared_noise",
                  "lag_jitter_s": "lag_jitter_s"}
    panel_args = {}
    for k, v in panel_keys.items():
        if k in opts:
            val = opts.pop(k)
            if k == "lag_s" and not isinstance(val, (list, tuple)):
                val = (float(val), float(val))
            panel_args[v] = tuple(val) if isinstance(val, list) else val
    base = SessionSpec().panel
    panel = RaterPanel(**{**asdict(base), **panel_args})
    dims = tuple(opts.pop("dimensions", tuple(mapping_classes)))
    known = {f for f in SessionSpec.__dataclass_fields__} - {"panel", "classes", "dimensions"}
    unknown = set(opts) - known
    if unknown:
        raise ConfigError(f"unknown pseudo-continuous option(s) {sorted(unknown)}; known: "
                          f"{sorted(known | set(panel_keys) | {'dimensions'})}")
    if "pause_s" in opts:
        opts["pause_s"] = tuple(opts["pause_s"])
    return SessionSpec(dimensions=dims, classes={d: list(mapping_classes[d]) for d in dims
                                                 if d in mapping_classes},
                       panel=panel, **opts)
