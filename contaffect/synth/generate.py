"""Generate a synthetic corpus from a preset and write it in its real layout.

Everything random comes from ``numpy.random.SeedSequence((seed, preset, i))``
per recording, so a corpus is bit-reproducible from its seed, whatever the
number of workers. Next to the corpus, ``synth/`` holds what no real corpus
has: the latent truth of every recording (``truth/<id>.npz``), the test
labels withheld from the ComParE layout, and ``report.json`` with the
ceiling (CC between the fused, lag-corrected gold standard and the truth).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from contaffect import __version__
from contaffect.errors import ConfigError
from contaffect.registry import Registry
from contaffect.labels import Trace, fuse_raters, resample, shift_lag
from contaffect.synth.annotate import rate_traces
from contaffect.synth.channel import apply_channel
from contaffect.synth.latent import LATENT_RATE, AffectStyle, latent_affect
from contaffect.synth.layouts import WRITERS, SynthRecording
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
    ratings = {}
    if preset.panel is not None:
        for dim, truth in ((0, arousal), (1, valence)):
            ratings[("arousal", "valence")[dim]] = rate_traces(truth, LATENT_RATE, preset.panel,
                                                               dim, rng)
    return SynthRecording(index=index, speaker=speaker, session=item["session"],
                          partition=item["partition"], audio=audio, truth_times=times,
                          arousal=arousal, valence=valence, ratings=ratings,
                          label=item.get("label"))


def ceiling(preset: Preset, recs: list[SynthRecording], rate: float = 25.0) -> dict:
    """CC between the gold standard (resampled, mean-fused, lag-shifted) and the truth.

    The gold standard is made exactly as an experiment would by default,
    except that the lag is the panel's true mean lag. ``pooled`` is over all
    frames of the corpus, ``per_recording`` the mean over recordings.
    """
    out = {}
    for d, dim in enumerate(("arousal", "valence")):
        golds, truths, per = [], [], []
        for rec in recs:
            times, values, lengths = rec.ratings[dim]
            n = min(lengths)  # ragged raters are cut to the shortest, as the loader does
            tr = Trace(times[:n], values[:n])
            gold = shift_lag(fuse_raters(resample(tr, rate)), preset.panel.lag_s[d], mode="mask")
            truth = np.interp(gold.times, rec.truth_times, rec.arousal if d == 0 else rec.valence)
            g = gold.values[:, 0]
            golds.append(g)
            truths.append(truth)
            per.append(float(np.corrcoef(g, truth)[0, 1]))
        out[dim] = dict(pooled=float(np.corrcoef(np.concatenate(golds),
                                                 np.concatenate(truths))[0, 1]),
                        per_recording=float(np.mean(per)))
    return out


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
        Recordings rendered in parallel (threads).
    progress
        Show a progress bar.

    Returns
    -------
    dict
        The report also written to ``out/synth/report.json``: preset, seed,
        scale, recordings, hours, ceiling (dimensional presets) or class
        counts (categorical presets).
    """
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    out = Path(out)
    t0 = time.perf_counter()
    plan = _plan(preset, scale, seed)
    if preset.class_shares:
        _self_assessment(preset, plan, seed)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_render, preset, item, i, seed) for i, item in enumerate(plan)]
        recs = [f.result() for f in tqdm(futures, desc=f"synth {preset.name}", unit="rec",
                                         disable=not progress, leave=False)]
    WRITERS[preset.layout](out, recs)
    side = out / SIDE_DIR
    (side / "truth").mkdir(parents=True, exist_ok=True)
    for rec in recs:
        np.savez_compressed(side / "truth" / f"{rec.rec_id}.npz", times=rec.truth_times,
                            arousal=rec.arousal, valence=rec.valence)
    report = dict(
        preset=preset.name, layout=preset.layout, seed=seed, scale=scale,
        synth_version=SYNTH_VERSION, contaffect=__version__, recordings=len(recs),
        speakers=len({r.speaker.id for r in recs}),
        hours=round(sum(r.audio.size for r in recs) / 16000 / 3600, 4),
        description=preset.description,
    )
    if preset.panel is not None:
        report["ceiling"] = ceiling(preset, recs)
        report["true_lag_s"] = dict(zip(("arousal", "valence"), preset.panel.lag_s))
    else:
        labels = [r.label for r in recs]
        report["classes"] = {c: labels.count(c) for c in CLASSES}
        with open(side / "test_labels.tsv", "w") as fh:
            fh.write("file_name\tValence\n")
            for rec in recs:
                if rec.partition == "test":
                    fh.write(f"{rec.rec_id}.wav\t{rec.label}\n")
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
    """True if a stored generator report was made by this generator with this preset."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    return (report.get("synth_version") == SYNTH_VERSION and report.get("preset_parameters")
            == json.loads(json.dumps(asdict(preset), default=str)))


def load_truth(corpus_root: str | Path, rec_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latent truth of one synthetic recording: times, arousal, valence (100 Hz)."""
    path = Path(corpus_root) / SIDE_DIR / "truth" / f"{rec_id}.npz"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: not a synthetic corpus, or unknown id")
    with np.load(path) as z:
        return z["times"], z["arousal"], z["valence"]
