"""The synthetic stand-ins for RECOLA, SEMAINE, CreativeIT and USoMS (and, from
:mod:`contaffect.synth.categorical`, for the acted corpora RAVDESS, EMOVO, EMO-DB).

Each preset keeps what makes its real counterpart different from the others
(Kaya, Fedotov et al. 2018, Sec. 3.1 and Fig. 2): label rate, number of
raters, session length, voices, room and channel, the shape of the label
distribution and the sign of the arousal-valence correlation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from contaffect.errors import ConfigError
from contaffect.synth.annotate import RaterPanel
from contaffect.synth.categorical import CATEGORICAL_PRESETS, CategoricalPreset
from contaffect.synth.channel import Channel
from contaffect.synth.latent import AffectStyle
from contaffect.synth.voice import Prosody


@dataclass(frozen=True)
class Preset:
    """Everything that defines one synthetic corpus at ``scale=1``.

    Attributes
    ----------
    name
        Preset name, also the corpus name.
    layout
        On-disk layout of the real counterpart: ``recola``, ``semaine``,
        ``creativeit`` or ``compare``.
    n_speakers
        Speakers at scale 1.
    recordings_per_speaker
        Sessions (or narratives) per speaker.
    duration_s
        Range of recording durations at scale 1.
    female_ratio
        Share of female voices.
    f0_shift_st
        Shift of the corpus' whole voice set in semitones.
    affect, prosody, channel, panel
        Affect distribution, voice mapping, recording chain, raters
        (``panel`` is None for categorical corpora).
    class_shares
        For categorical presets: target shares of the low / medium / high
        self-assessed valence classes.
    description
        One line for ``contaffect synth --help``.
    """

    kind: ClassVar[str] = "dimensional"

    name: str
    layout: str
    n_speakers: int
    recordings_per_speaker: int
    duration_s: tuple[float, float]
    female_ratio: float
    f0_shift_st: float
    affect: AffectStyle
    prosody: Prosody
    channel: Channel
    panel: RaterPanel | None
    class_shares: tuple[float, float, float] | None = None
    description: str = ""
    partitions: dict[str, float] = field(default_factory=dict)


#: Every synthetic preset by name: the dimensional ones here, the categorical ones of
#: :mod:`contaffect.synth.categorical` (``ravdess_like``, ``emovo_like``, ``emodb_like``,
#: ``natural_like``).
PRESETS: dict[str, "Preset | CategoricalPreset"] = {
    p.name: p
    for p in (
        Preset(
            name="recola_like", layout="recola",
            n_speakers=9, recordings_per_speaker=1, duration_s=(90.0, 90.0),
            female_ratio=0.55, f0_shift_st=0.0,
            # RECOLA: centred, peaked label distribution; positive A-V correlation
            affect=AffectStyle(av_corr=0.45, timescale_s=5.0, spread=0.45, skew=(0.0, 0.05)),
            # French-like syllable timing, phrase-final prominence
            prosody=Prosody(stress_timed=False, pause_s=(0.2, 0.8)),
            channel=Channel(rt60_s=0.15, reverb_mix=0.15, band_hz=(60, 7800), snr_db=35),
            panel=RaterPanel(rate_hz=25.0, n_raters=6, lag_s=(2.0, 2.4), noise=0.2,
                             shared_noise=0.15),
            partitions={"train": 1 / 3, "devel": 1 / 3, "test": 1 / 3},
            description="25 Hz, 6 raters, French-like timing, clean close-talk channel",
        ),
        Preset(
            name="semaine_like", layout="semaine",
            n_speakers=5, recordings_per_speaker=2, duration_s=(120.0, 180.0),
            female_ratio=0.4, f0_shift_st=-1.5,
            # SEMAINE: skewed towards positive arousal, positive A-V correlation
            affect=AffectStyle(av_corr=0.5, timescale_s=8.0, spread=0.6, skew=(0.35, 0.2)),
            # English-like stress timing, longer phrases
            prosody=Prosody(stress_timed=True, pause_s=(0.3, 1.2), phrase_syllables=(5, 14)),
            channel=Channel(rt60_s=0.35, reverb_mix=0.25, band_hz=(80, 7500), snr_db=28,
                            gain_db=-4.0),
            panel=RaterPanel(rate_hz=50.0, n_raters=4, lag_s=(2.5, 3.0), noise=0.2,
                             smooth_s=0.6, ragged_s=1.5, shared_noise=0.2),
            description="50 Hz, 4 raters with ragged lengths, longer sessions, other voices "
                        "and room",
        ),
        Preset(
            name="creativeit_like", layout="creativeit",
            n_speakers=8, recordings_per_speaker=2, duration_s=(50.0, 80.0),
            female_ratio=0.5, f0_shift_st=1.0,
            # CreativeIT: skewed the other way, NEGATIVE A-V correlation
            affect=AffectStyle(av_corr=-0.5, timescale_s=4.0, spread=0.6, skew=(-0.3, 0.25)),
            prosody=Prosody(stress_timed=True, pause_s=(0.15, 0.7), arousal_f0_st=5.0),
            channel=Channel(rt60_s=0.5, reverb_mix=0.35, band_hz=(150, 6000), snr_db=18,
                            gain_db=3.0),
            panel=RaterPanel(rate_hz=60.0, n_raters=3, lag_s=(1.5, 2.0), noise=0.25,
                             smooth_s=0.3, lag_jitter_s=0.6, shared_noise=0.25),
            description="60 Hz, 3 raters, negative arousal-valence correlation, noisier channel",
        ),
        Preset(
            name="usoms_like", layout="compare",
            n_speakers=48, recordings_per_speaker=4, duration_s=(5.0, 9.0),
            female_ratio=0.85, f0_shift_st=0.5,
            affect=AffectStyle(av_corr=0.3, timescale_s=2.0, spread=0.4),
            prosody=Prosody(stress_timed=True, pause_s=(0.2, 0.8)),
            channel=Channel(rt60_s=0.25, reverb_mix=0.2, band_hz=(70, 7600), snr_db=30),
            panel=None, class_shares=(0.2, 0.3, 0.5),
            partitions={"train": 0.5, "devel": 0.25, "test": 0.25},
            description="short narratives, self-assessed low/medium/high valence, "
                        "imbalanced, ComParE layout",
        ),
        *CATEGORICAL_PRESETS,
    )
}


def get_preset(name: str) -> "Preset | CategoricalPreset":
    """Look up a preset by name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown synthetic preset {name!r}; choose one of {sorted(PRESETS)}") \
            from None
