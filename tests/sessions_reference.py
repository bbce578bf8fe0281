"""The in-order ``build_sessions`` as it was before sessions became tasks (commit b1f0634).

Kept verbatim (only renamed) as the reference that the planned, task-based build
(:func:`contaffect.synth.pseudo_continuous.build_sessions`) must match byte for
byte: same audio, traces, tables and report from the same inputs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError, CorpusError
from contaffect.synth.annotate import rate_traces
from contaffect.synth.pseudo_continuous import SR, TRUTH_RATE, VERSION, SessionSpec, _sha

log = logging.getLogger(__name__)


def build_sessions_in_order(source: Corpus, out: str | Path, spec: SessionSpec, *,
                   name: str | None = None, progress: bool = True) -> dict:
    """Write a pseudo-continuous corpus made of ``source``'s utterances.

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

    Returns
    -------
    dict
        The report (also ``out/report.json``).
    """
    from tqdm.auto import tqdm

    from contaffect.features.audio import read_audio

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
    rng = np.random.default_rng(spec.seed)
    # duplicates: byte-identical files are used once
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
    by_speaker: dict[str, list] = {}
    for r in recs:
        by_speaker.setdefault(r.speaker, []).append(r)
    noise_amp = 10 ** (spec.noise_dbfs / 20)
    rows, spans, clipped = [], [], []
    bar = tqdm(total=len(recs), desc=f"sessions {source.name}", unit="utt", disable=not progress)
    for speaker in sorted(by_speaker):
        utts = by_speaker[speaker]
        order = rng.permutation(len(utts))
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
        for k, sess in enumerate(sessions):
            sid = f"{speaker}_s{k + 1:02d}"
            pieces, t, anchors = [], 0.0, []
            for r in sess:
                pause = rng.uniform(*spec.pause_s)
                n_pause = int(round(pause * SR))
                pieces.append(noise_amp * rng.standard_normal(n_pause))
                t += n_pause / SR
                audio, _info = read_audio(r.audio)
                if np.any(np.abs(audio) >= 0.999):            # reaches full scale
                    clipped.append(r.id)
                if spec.gain_jitter_db:
                    audio = audio * 10 ** (rng.uniform(-1, 1) * spec.gain_jitter_db / 20)
                pieces.append(audio)
                start, end = t, t + audio.size / SR
                anchors.append((start, end, {d: values[d][r.labels[d]] for d in spec.dimensions}))
                spans.append(dict(session=sid, utterance=r.id, start_s=round(start, 6),
                                  end_s=round(end, 6), **{d: r.labels[d] for d in spec.dimensions},
                                  **({"emotion": r.labels["emotion"]} if "emotion" in r.labels
                                     else {})))
                t = end
                bar.update()
            tail = int(round(rng.uniform(*spec.pause_s) * SR))
            pieces.append(noise_amp * rng.standard_normal(tail))
            audio = np.clip(np.concatenate(pieces), -1, 1).astype(np.float32)
            sf.write(str(out / "audio" / f"{sid}.wav"), audio, SR, subtype="PCM_16")
            duration = audio.size / SR
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
            first = sess[0]
            rows.append(dict(file=f"audio/{sid}.wav", speaker=speaker, gender=first.gender or "",
                             partition=first.partition or "", n_utterances=len(sess),
                             duration_s=round(duration, 3)))
    bar.close()
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


def mixed_source(root: Path, n_speakers: int = 2, per: int = 5) -> Corpus:
    """A small categorical corpus that takes every branch of a session build: 16 kHz mono,
    44.1 kHz and 48 kHz stereo files (resampled), a clipped file, a byte-identical
    duplicate, and ``duration_s`` given for some files only; the acted_basic_av mapping
    applied."""
    from scipy.signal import resample_poly

    from conftest import voiced_signal
    from contaffect.corpus import load_corpus
    from contaffect.corpus.mapping import apply_mapping
    from contaffect.labels.mapping import load_mapping

    emotions = ["anger", "sadness", "happiness", "neutral"]
    rows = ["file,speaker,gender,emotion,duration_s"]
    (root / "audio").mkdir(parents=True, exist_ok=True)
    for s in range(n_speakers):
        for u in range(per):
            seconds = 0.6 + 0.15 * u + 0.05 * s
            x = voiced_signal(seconds, seed=10 * s + u)
            rel = f"audio/s{s}_u{u}.wav"
            k = (s * per + u) % 4
            if k == 1:
                sf.write(str(root / rel), resample_poly(x, 441, 160).astype(np.float32), 44100)
            elif k == 2:
                y = resample_poly(x, 3, 1).astype(np.float32)
                sf.write(str(root / rel), np.column_stack([y, 0.5 * y]), 48000)
            elif k == 3:
                sf.write(str(root / rel), np.clip(8 * x, -1, 1), 16000)
            else:
                sf.write(str(root / rel), x, 16000)
            duration = f"{seconds:.3f}" if u % 2 else ""
            rows.append(f"{rel},spk{s},female,{emotions[u % 4]},{duration}")
    (root / "audio" / "dup.wav").write_bytes((root / "audio" / "s0_u0.wav").read_bytes())
    rows.append("audio/dup.wav,spk0,female,anger,")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return apply_mapping(load_corpus(root), load_mapping("acted_basic_av"))


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under a folder: relative path -> bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
