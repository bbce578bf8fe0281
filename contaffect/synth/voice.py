"""Speech-like audio from a source-filter model whose prosody follows latent affect.

Not speech, but it has what acoustic emotion features measure:

- a glottal source: pulses at F0 (phase accumulation), open quotient and a
  spectral-tilt mix set by vocal effort, jitter, shimmer, aspiration noise;
- a vocal tract: four formant resonators per vowel, scaled by the speaker's
  vocal-tract length; fricative and burst noise for consonants;
- syllable timing: consonant-vowel syllables in phrases separated by pauses,
  either syllable-timed (French-like, even durations) or stress-timed
  (English-like, alternating long stressed and short unstressed syllables).

Affect drives it the way the literature on vocal emotion describes
(Scherer 2003; Juslin & Laukka 2003): **arousal** raises F0 level and range,
loudness, speaking rate and vocal effort (flatter spectral tilt, shorter open
phase) and shortens pauses; **valence** acts more weakly: a slight F0 rise and
rising contours, formants raised by lip spreading ("smiling"), less jitter
and breathiness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16000

# Peterson & Barney (1952) adult male formant averages, Hz (F1..F4)
VOWELS = np.array([
    [730, 1090, 2440, 3400],   # a
    [530, 1840, 2480, 3500],   # e
    [270, 2290, 3010, 3700],   # i
    [570, 840, 2410, 3400],    # o
    [300, 870, 2240, 3400],    # u
], dtype=np.float64)
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice.

    Attributes
    ----------
    id
        Speaker id.
    gender
        ``"female"`` or ``"male"``.
    f0_hz
        Base F0 (neutral affect).
    vtl
        Formant scale factor (1 = adult male average; ~1.15 female).
    loudness_db
        Level offset of this speaker.
    breathiness
        Aspiration noise level (0..1).
    rate_sps
        Base speaking rate in syllables per second.
    """

    id: str
    gender: str
    f0_hz: float
    vtl: float
    loudness_db: float
    breathiness: float
    rate_sps: float


@dataclass(frozen=True)
class Prosody:
    """How strongly affect drives the voice, and the language's timing."""

    arousal_f0_st: float = 4.0      # semitones of F0 level per unit arousal
    arousal_range: float = 0.6      # relative change of F0 range per unit arousal
    arousal_db: float = 7.0         # dB of loudness per unit arousal
    arousal_rate: float = 0.25      # relative change of syllable rate per unit arousal
    arousal_effort: float = 0.35    # spectral-tilt mix change per unit arousal
    valence_f0_st: float = 0.8
    valence_formant: float = 0.03   # relative formant raise per unit valence
    valence_contour_st: float = 1.0 # rising (positive) or falling accent slope
    valence_quality: float = 0.4    # less jitter / breath with positive valence
    stress_timed: bool = False      # English-like alternation vs French-like evenness
    pause_s: tuple[float, float] = (0.2, 0.9)
    phrase_syllables: tuple[int, int] = (4, 12)


def random_speaker(speaker_id: str, rng: np.random.Generator, *, female: bool,
                   f0_shift_st: float = 0.0) -> Speaker:
    """Draw a plausible voice; ``f0_shift_st`` moves the whole voice set of a corpus."""
    if female:
        f0 = rng.uniform(175, 245)
        vtl = rng.uniform(1.10, 1.22)
    else:
        f0 = rng.uniform(95, 145)
        vtl = rng.uniform(0.92, 1.05)
    return Speaker(
        id=speaker_id, gender="female" if female else "male",
        f0_hz=float(f0 * 2 ** (f0_shift_st / 12)), vtl=float(vtl),
        loudness_db=float(rng.uniform(-4, 4)), breathiness=float(rng.uniform(0.02, 0.12)),
        rate_sps=float(rng.uniform(4.2, 5.8)),
    )


def _resonator_poly(formants: np.ndarray) -> np.ndarray:
    """Denominator of a cascade of 2-pole resonators at the given formants."""
    a = np.array([1.0])
    for f, bw in zip(formants, BANDWIDTHS):
        r = np.exp(-np.pi * bw / SR)
        a = np.convolve(a, [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r])
    return a


def synthesize(
    arousal: np.ndarray,
    valence: np.ndarray,
    latent_rate: float,
    speaker: Speaker,
    prosody: Prosody,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render speech-like audio whose prosody follows the latent traces.

    Parameters
    ----------
    arousal, valence
        Latent truth in (-1, 1) sampled at ``latent_rate`` Hz.
    latent_rate
        Rate of the latent traces.
    speaker, prosody
        The voice and the affect-to-voice mapping.
    rng
        Random generator (all randomness comes from it).

    Returns
    -------
    np.ndarray
        float32 at 16 kHz, as long as the latent traces (dry: no channel yet).
    """
    from scipy.signal import butter, lfilter, sosfilt
    duration = (arousal.size - 1) / latent_rate
    n = int(round(duration * SR))
    t_lat = np.arange(arousal.size) / latent_rate

    def a_at(t: float) -> float:
        return float(np.interp(t, t_lat, arousal))

    def v_at(t: float) -> float:
        return float(np.interp(t, t_lat, valence))

    # ---- 1. segment plan: syllables in phrases, pauses between phrases
    segs = []  # (start, end, kind, vowel, accent, stressed) in samples
    t = rng.uniform(0.05, 0.4)
    while t < duration - 0.3:
        n_syl = int(rng.integers(prosody.phrase_syllables[0], prosody.phrase_syllables[1] + 1))
        for k in range(n_syl):
            a = a_at(t)
            rate = speaker.rate_sps * (1 + prosody.arousal_rate * a)
            if prosody.stress_timed:
                stressed = k % 2 == 0
                dur = (1.35 if stressed else 0.65) / rate * rng.uniform(0.85, 1.15)
            else:
                stressed = k == n_syl - 1  # French: phrase-final prominence
                dur = 1.0 / rate * rng.uniform(0.9, 1.1)
            if t + dur > duration - 0.05:
                break
            cons = dur * rng.uniform(0.2, 0.35)
            i0, i1, i2 = int(t * SR), int((t + cons) * SR), int((t + dur) * SR)
            kind = int(rng.integers(0, 3))  # 0 fricative, 1 burst, 2 nasal-like voiced
            segs.append((i0, i1, "c", kind, 0.0, stressed))
            segs.append((i1, i2, "v", int(rng.integers(0, 5)),
                         rng.uniform(0.5, 1.0) * (1.6 if stressed else 0.7), stressed))
            t += dur
        a = a_at(t)
        lo, hi = prosody.pause_s
        t += rng.uniform(lo, hi) * (1 - 0.45 * a)

    # ---- 2. per-sample control signals
    ts = np.arange(n) / SR
    a_s = np.interp(ts, t_lat, arousal)
    v_s = np.interp(ts, t_lat, valence)
    voiced = np.zeros(n, dtype=bool)
    fric = np.zeros(n, dtype=bool)
    burst = np.zeros(n, dtype=bool)
    accent = np.zeros(n)
    env = np.zeros(n)
    phrase_pos = np.zeros(n)  # 0 at phrase start -> 1 at phrase end (declination)
    seg_vowel = []
    prev_end = -1
    phrase_start = 0
    for (i0, i1, kind, sub, acc, _stressed) in segs:
        if i0 - prev_end > 0.1 * SR:
            phrase_start = i0
        prev_end = i1
        m = i1 - i0
        if m <= 0:
            continue
        if kind == "v":
            voiced[i0:i1] = True
            x = np.linspace(0, 1, m)
            accent[i0:i1] = acc * np.sin(np.pi * x)
            env[i0:i1] = np.minimum(1.0, np.minimum(x / 0.15, (1 - x) / 0.25).clip(0, 1) + 0.05)
            seg_vowel.append((i0, i1, sub))
        else:
            env[i0:i1] = 0.35
            if sub == 0:
                fric[i0:i1] = True
            elif sub == 1:
                burst[i0:min(i1, i0 + int(0.02 * SR))] = True
            else:
                voiced[i0:i1] = True
                env[i0:i1] = 0.25
                seg_vowel.append((i0, i1, 4))  # nasal-ish: closed-vowel formants
        phrase_pos[i0:i1] = (i1 - phrase_start) / SR

    # F0 in semitones re the speaker's base
    rng_f0 = 1 + prosody.arousal_range * a_s
    st = (prosody.arousal_f0_st * a_s + prosody.valence_f0_st * v_s
          + 3.0 * rng_f0 * accent
          + prosody.valence_contour_st * v_s * accent * np.sign(np.gradient(accent))
          - 1.2 * np.minimum(phrase_pos, 3.0))
    jitter_amt = 0.012 * (1 - prosody.valence_quality * 0.5 * v_s)
    jit_grid = np.arange(int(duration * 200) + 2) / 200.0  # a new jitter value every 5 ms
    slow = np.interp(ts, jit_grid, rng.standard_normal(jit_grid.size))
    f0 = speaker.f0_hz * 2 ** (st / 12) * (1 + jitter_amt * slow)

    # ---- 3. glottal source
    phase = np.cumsum(f0 / SR)
    frac = phase % 1.0
    period = phase.astype(np.int64)
    open_q = np.clip(0.65 - 0.15 * a_s, 0.35, 0.8)
    pulse = np.where(frac < open_q, np.sin(2 * np.pi * frac / open_q), 0.0)
    shimmer = 1 + 0.08 * (1 - prosody.valence_quality * 0.5 * v_s) * \
        rng.standard_normal(int(period[-1]) + 2)[period]
    source = pulse * shimmer
    lowpassed = lfilter([0.12], [1.0, -0.88], source)
    effort = np.clip(0.5 + prosody.arousal_effort * a_s, 0.05, 0.95)
    source = effort * source + (1 - effort) * 2.5 * lowpassed
    breath = (speaker.breathiness * (1 - prosody.valence_quality * 0.4 * v_s)
              * rng.standard_normal(n) * (frac < open_q))
    excitation = (source + breath) * voiced

    # ---- 4. vocal tract: formant filter per voiced segment, state carried across
    out = np.zeros(n)
    zi = np.zeros(8)
    scale = speaker.vtl
    for i0, i1, vowel in seg_vowel:
        mid = (i0 + i1) // 2
        shift = 1 + prosody.valence_formant * v_s[mid] + 0.04 * a_s[mid]
        formants = VOWELS[vowel] * scale * np.array([shift, shift, 1.0, 1.0])
        formants = np.minimum(formants, 0.45 * SR)
        a_poly = _resonator_poly(formants)
        # Klatt (1980) normalisation: unit gain at 0 Hz for the whole cascade
        seg, zi = lfilter([a_poly.sum()], a_poly, excitation[i0:i1], zi=zi)
        out[i0:i1] = seg
    noise = rng.standard_normal(n)
    sos_f = butter(4, [3500 / (SR / 2), 7000 / (SR / 2)], btype="band", output="sos")
    sos_b = butter(2, [800 / (SR / 2), 5000 / (SR / 2)], btype="band", output="sos")
    out += 1.7 * sosfilt(sos_f, noise) * fric + 4.0 * sosfilt(sos_b, noise) * burst  # ~15 dB under vowels

    # ---- 5. loudness: arousal, valence (weak), speaker level, syllable envelope
    level_db = speaker.loudness_db + prosody.arousal_db * a_s + 0.5 * v_s + 2.0 * accent
    out *= env * 10 ** (level_db / 20) * 0.02  # about -30 dBFS RMS at neutral arousal
    return out.astype(np.float32)
