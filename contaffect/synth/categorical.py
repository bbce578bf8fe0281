"""Synthetic categorical corpora: acted-emotion stand-ins for RAVDESS, EMOVO and EMO-DB.

Each utterance is rendered by the same voice and channel models as the
dimensional presets, from a latent (arousal, valence) point: the category's
position in this corpus, plus a speaker offset (speaking style) and an
utterance jitter, scaled by the corpus' expressiveness. Corpora differ the way
real acted corpora do: speakers and voices, category sets and where each
category sits, language-like timing, rooms and microphones, class balance,
and (``natural_like``) whether a speaker shows one emotion or all of them.

Written in the generic folder layout (``labels.csv`` with ``file``,
``speaker``, ``gender``, ``partition``, ``emotion``; ``audio/<id>.wav``) and
read back by the ordinary loader. ``synth/truth.csv`` holds each utterance's
latent point; ``synth/report.json`` the class counts and a ceiling: the UAR
of assigning each utterance's latent point to the nearest category position,
how separable the categories are at best.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from contaffect.synth.channel import Channel, apply_channel
from contaffect.synth.latent import LATENT_RATE, smooth_noise
from contaffect.synth.voice import SR, Prosody, random_speaker, synthesize


@dataclass(frozen=True)
class CategoricalPreset:
    """Everything that defines one synthetic categorical corpus at ``scale=1``.

    Attributes
    ----------
    name, description
        Preset name (also the corpus name) and one line for ``contaffect synth --help``.
    categories
        Category -> its (arousal, valence) latent position in (-1, 1), this
        corpus' own placement.
    counts
        Category -> utterances per speaker at scale 1 (with
        ``categories_per_speaker``: per speaker who shows the category).
    n_speakers, female_ratio, f0_shift_st
        Speakers at scale 1, the share of female voices, and a shift of the
        whole voice set in semitones.
    duration_s
        Range of utterance durations.
    jitter
        Standard deviation of the per-utterance offset of the latent point.
    speaker_bias
        Standard deviation of a per-speaker offset (speaking style).
    intensity
        Range of a per-utterance intensity ``s``: the category's offset from
        the corpus' neutral point is scaled by ``s`` (uniform in the range),
        so a mildly acted category lies near neutral. Acted corpora vary
        intensity on purpose (RAVDESS records every category at normal and
        strong intensity: the default range spans half to full); it is what
        makes low- and high-arousal categories overlap, as they do in real
        corpora. Without it (``(1, 1)``) binary arousal saturates at ~100 % UAR.
    expressiveness
        Scale of the latent point before synthesis (acted corpora exaggerate).
    prosody, channel
        Voice mapping and recording chain.
    partitions
        Speaker shares of train / devel / test, dealt per gender (seeded).
    categories_per_speaker
        ``None``: every speaker acts every category (acted corpora); ``k``:
        each speaker shows ``k`` categories only (natural corpora), dealt so
        that every partition holds every category.
    """

    kind: ClassVar[str] = "categorical"
    layout: ClassVar[str] = "folder"
    panel: ClassVar[None] = None          # no raters: utterance labels only

    name: str
    description: str
    categories: dict[str, tuple[float, float]]
    counts: dict[str, int]
    n_speakers: int
    female_ratio: float = 0.5
    f0_shift_st: float = 0.0
    duration_s: tuple[float, float] = (1.6, 3.4)
    jitter: float = 0.2
    speaker_bias: float = 0.2
    intensity: tuple[float, float] = (0.5, 1.0)
    expressiveness: float = 1.0
    prosody: Prosody = field(default_factory=Prosody)
    channel: Channel = field(default_factory=Channel)
    partitions: dict[str, float] = field(default_factory=lambda: {"train": 0.6, "devel": 0.2,
                                                                   "test": 0.2})
    categories_per_speaker: int | None = None


def _rng(seed: int, preset: CategoricalPreset, *index: int) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(preset.name.encode()).digest()[:4], "little")
    return np.random.default_rng(np.random.SeedSequence((seed, key, *index)))


def _plan(preset: CategoricalPreset, scale: float, seed: int) -> list[dict]:
    """Speakers, their partitions and categories, and one item per utterance."""
    rng = _rng(seed, preset, 10**6)
    n_spk = max(len(preset.partitions) * 2, int(round(preset.n_speakers * max(1.0, scale))))
    n_f = int(round(preset.female_ratio * n_spk))
    speakers = [random_speaker(f"{preset.name.split('_')[0][:3]}{i:02d}", rng, female=i < n_f,
                               f0_shift_st=preset.f0_shift_st) for i in range(n_spk)]
    part_of: dict[int, str] = {}
    names = list(preset.partitions)
    shares = np.cumsum(list(preset.partitions.values()))
    for female in (True, False):                      # each gender dealt on its own
        group = [i for i, s in enumerate(speakers) if (s.gender == "female") == female]
        group = [group[j] for j in rng.permutation(len(group))]
        bounds = np.round(shares * len(group)).astype(int)
        for rank, i in enumerate(group):
            part_of[i] = names[min(int(np.searchsorted(bounds, rank, side="right")),
                                   len(names) - 1)]
    cats = list(preset.categories)
    shows: dict[int, list[str]] = {}
    if preset.categories_per_speaker:
        k = preset.categories_per_speaker
        for part in names:                            # every partition shows every category
            members = [i for i in range(n_spk) if part_of[i] == part]
            members.sort(key=lambda i: (speakers[i].gender, i))
            members = members[0::2] + members[1::2] if len(members) > 2 else members
            start = int(rng.integers(len(cats)))
            for r, i in enumerate(members):
                shows[i] = [cats[(start + r * k + j) % len(cats)] for j in range(k)]
    else:
        shows = {i: cats for i in range(n_spk)}
    per = min(1.0, scale)
    plan = []
    for i, spk in enumerate(speakers):
        bias = preset.speaker_bias * rng.standard_normal(2)
        for cat in shows[i]:
            n = max(1, int(round(preset.counts[cat] * per)))
            for k in range(n):
                plan.append(dict(speaker=spk, partition=part_of[i], category=cat, take=k,
                                 bias=bias, duration=float(rng.uniform(*preset.duration_s))))
    return plan


def _render(preset: CategoricalPreset, item: dict, index: int, seed: int):
    rng = _rng(seed, preset, index)
    pos = np.asarray(preset.categories[item["category"]], dtype=np.float64)
    origin = np.asarray(preset.categories.get("neutral", (0.0, 0.0)), dtype=np.float64)
    pos = origin + rng.uniform(*preset.intensity) * (pos - origin)
    own = pos + preset.jitter * rng.standard_normal(2)       # the utterance, style-free
    point = np.clip(own + item["bias"], -0.95, 0.95)
    n = int(round(item["duration"] * LATENT_RATE)) + 1
    wobble = [0.05 * smooth_noise(n, 0.4 * LATENT_RATE, rng) for _ in range(2)]
    a = np.clip(preset.expressiveness * point[0] + wobble[0], -0.98, 0.98)
    v = np.clip(preset.expressiveness * point[1] + wobble[1], -0.98, 0.98)
    dry = synthesize(a, v, LATENT_RATE, item["speaker"], preset.prosody, rng)
    return apply_channel(dry, preset.channel, rng), point, np.clip(own, -0.95, 0.95)


def ceiling(preset: CategoricalPreset, points: np.ndarray, labels: list[str]) -> float:
    """UAR of the nearest category position to each utterance's latent point.

    A nearest-prototype reference, not a bound: with intensity scaling a
    category's utterances spread towards neutral, and a classifier that learns
    that spread can beat the nearest full-intensity position.

    :func:`generate_categorical` passes the style-free points (the speaker's
    offset removed, which speaker normalisation can undo at best), so the
    ceiling measures how far categories overlap through intensity and
    utterance jitter alone.
    """
    from contaffect.metrics import uar

    cats = list(preset.categories)
    centres = np.array([preset.categories[c] for c in cats])
    nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return uar(labels, [cats[j] for j in nearest], labels=cats)


def generate_categorical(preset: CategoricalPreset, out: str | Path, *, scale: float = 1.0,
                         seed: int = 0, workers: int = 1, progress: bool = True) -> dict:
    """Render a categorical preset into ``out`` (an empty folder, prepared by
    :func:`contaffect.synth.generate.generate`) in the generic folder layout; returns the
    report.

    ``scale`` above 1 adds speakers; below 1 it keeps the speakers and cuts
    the utterances per speaker and category (one at least). Everything
    random derives from ``seed``, per utterance, so the bytes do not depend
    on ``workers``. Utterances are rendered on ``workers`` threads and
    written in plan order as they come
    (:func:`contaffect.synth.generate.render_in_order`): only their label
    rows and latent points stay in memory.
    """
    import pandas as pd
    import soundfile as sf
    from tqdm.auto import tqdm

    from contaffect import __version__
    from contaffect.synth.generate import SYNTH_VERSION, render_in_order

    out = Path(out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    plan = _plan(preset, scale, seed)
    stream = render_in_order(lambda i, item: _render(preset, item, i, seed), plan, workers)
    rows, truth, seconds = [], [], 0.0
    own_points = []
    for item, (audio, point, own) in zip(plan, tqdm(stream, total=len(plan),
                                                     desc=f"synth {preset.name}", unit="utt",
                                                     disable=not progress, leave=False)):
        rid = f"{item['speaker'].id}_{item['category']}_{item['take']:02d}"
        sf.write(str(out / "audio" / f"{rid}.wav"), audio, SR, subtype="PCM_16")
        seconds += audio.size / SR
        del audio                      # written: only the row and the points are kept
        rows.append(dict(file=f"audio/{rid}.wav", speaker=item["speaker"].id,
                         gender=item["speaker"].gender, partition=item["partition"],
                         emotion=item["category"]))
        truth.append(dict(id=rid, arousal=round(float(point[0]), 6),
                          valence=round(float(point[1]), 6)))
        own_points.append(own)
    pd.DataFrame(rows).to_csv(out / "labels.csv", index=False)
    side = out / "synth"
    side.mkdir(exist_ok=True)
    pd.DataFrame(truth).to_csv(side / "truth.csv", index=False)
    labels = [r["emotion"] for r in rows]
    points = np.array(own_points).reshape(-1, 2)
    report = dict(
        preset=preset.name, layout=preset.layout, seed=seed, scale=scale,
        synth_version=SYNTH_VERSION, contaffect=__version__, recordings=len(rows),
        speakers=len({r["speaker"] for r in rows}), hours=round(seconds / 3600, 4),
        description=preset.description,
        classes={c: labels.count(c) for c in preset.categories},
        ceiling=round(ceiling(preset, points, labels), 4),
        preset_parameters=json.loads(json.dumps(asdict(preset), default=str)),
        seconds=round(time.perf_counter() - t0, 2))
    (side / "report.json").write_text(json.dumps(report, indent=2))
    return report


# ---------------------------------------------------------------- the presets
_RAVDESS = dict(neutral=(-0.3, 0.0), calm=(-0.55, 0.25), happy=(0.45, 0.6), sad=(-0.6, -0.55),
                angry=(0.8, -0.6), fearful=(0.6, -0.5), disgust=(-0.15, -0.6),
                surprised=(0.55, 0.35))
_EMOVO = dict(disgust=(-0.2, -0.5), joy=(0.6, 0.55), neutral=(-0.35, 0.0), fear=(0.5, -0.45),
              anger=(0.75, -0.55), surprise=(0.45, 0.3), sadness=(-0.55, -0.5))
_EMODB = dict(anger=(0.85, -0.6), boredom=(-0.65, -0.2), disgust=(-0.1, -0.55),
              fear=(0.65, -0.45), happiness=(0.55, 0.6), neutral=(-0.35, 0.0),
              sadness=(-0.7, -0.5))
_NATURAL = dict(neutral=(-0.25, 0.0), happy=(0.4, 0.45), angry=(0.55, -0.45), sad=(-0.5, -0.4))

CATEGORICAL_PRESETS = (
    CategoricalPreset(
        name="ravdess_like",
        description="acted, English-like timing, 8 categories (RAVDESS's), neutral half as "
                    "frequent, clean studio",
        categories=_RAVDESS, counts={c: (2 if c == "neutral" else 4) for c in _RAVDESS},
        n_speakers=12, female_ratio=0.5, f0_shift_st=0.0,
        prosody=Prosody(stress_timed=True, pause_s=(0.15, 0.5)),
        channel=Channel(rt60_s=0.1, reverb_mix=0.1, band_hz=(50, 7900), snr_db=40),
        partitions={"train": 0.6, "devel": 0.2, "test": 0.2}),
    CategoricalPreset(
        name="emovo_like",
        description="acted, Italian-like timing, 7 categories (EMOVO's), balanced, 6 "
                    "speakers, another room",
        categories=_EMOVO, counts={c: 6 for c in _EMOVO}, n_speakers=6, female_ratio=0.5,
        f0_shift_st=1.5, expressiveness=1.1,
        prosody=Prosody(stress_timed=False, arousal_f0_st=5.0, pause_s=(0.1, 0.4)),
        channel=Channel(rt60_s=0.4, reverb_mix=0.3, band_hz=(100, 7000), snr_db=30,
                        gain_db=-3.0),
        partitions={"train": 1 / 3, "devel": 1 / 3, "test": 1 / 3}),
    CategoricalPreset(
        name="emodb_like",
        description="acted, German-like timing, 7 categories (EMO-DB's) in EMO-DB's "
                    "imbalanced proportions, another channel",
        categories=_EMODB,
        counts=dict(anger=6, boredom=4, disgust=2, fear=3, happiness=4, neutral=4, sadness=3),
        n_speakers=10, female_ratio=0.5, f0_shift_st=-1.0,
        prosody=Prosody(stress_timed=True, arousal_db=8.0, pause_s=(0.2, 0.6)),
        channel=Channel(rt60_s=0.25, reverb_mix=0.2, band_hz=(70, 7600), snr_db=35, gain_db=2.0),
        partitions={"train": 0.6, "devel": 0.2, "test": 0.2}),
    CategoricalPreset(
        name="natural_like",
        description="each speaker in ONE emotion (4 categories), mild expression, telephone "
                    "band: speaker z-norm erases the label",
        categories=_NATURAL, counts={c: 16 for c in _NATURAL}, n_speakers=16,
        female_ratio=0.5, f0_shift_st=0.5, expressiveness=0.8, speaker_bias=0.1, jitter=0.15,
        intensity=(1.0, 1.0),                 # mildness is its expressiveness; one emotion each
        prosody=Prosody(stress_timed=True, pause_s=(0.2, 0.8)),
        channel=Channel(rt60_s=0.5, reverb_mix=0.35, band_hz=(200, 3600), snr_db=22),
        partitions={"train": 0.5, "devel": 0.25, "test": 0.25}, categories_per_speaker=1),
)
