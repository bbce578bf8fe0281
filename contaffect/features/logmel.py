r"""Log-Mel filterbank front ends: Kaldi's ``compute-fbank-feats`` and EmoNet's input layer.

Two frame-level front ends, written in numpy (no librosa, torchaudio or
TensorFlow at run time) and registered as feature sets of the feature store
(:data:`~contaffect.features.smile.FEATURE_SETS`):

``logmel40_kaldi`` (:func:`kaldi_fbank`)
    Kaldi's filterbank features (Povey et al., 2011, *The Kaldi speech
    recognition toolkit*, ASRU; ``src/feat/feature-window.cc``,
    ``feature-fbank.cc``, ``mel-computations.cc``): 40 log Mel energies of
    25 ms Povey-windowed frames every 10 ms, then per-utterance mean and
    variance normalisation (seed 000's front end).
``logmel64_emonet`` (:func:`emonet_logmel`)
    The log-Mel spectrogram computed by EmoNet's ``LogMelgramLayer``
    (Gerczuk, Amiriparian, Ottl & Schuller, 2023, *EmoNet: a transfer
    learning framework for multi-corpus speech emotion recognition*, IEEE
    Trans. Affective Computing 14(2), 1472-1487; code
    ``github.com/EIHW/EmoNet``, ``emo-net/models/input_layers.py`` and
    ``emo-net/models/build_model.py``). That layer is TensorFlow's
    ``tf.signal.stft`` (frames not centred, ``pad_end=False``; periodic Hann
    window) -> squared magnitude -> ``tf.signal.linear_to_mel_weight_matrix``
    (HTK mel scale, triangles in the mel domain, DC bin dropped, no area
    normalisation) -> :math:`\ln(\cdot + 10^{-6})`. EmoNet itself uses
    ``num_fft=1024, hop_length=512, num_mels=128, f_min=20, f_max=8000`` and
    the natural log (``return_decibel=False``) for its ResNet; seed 001 asks
    for 64 bands, a 512-point FFT and a 256-sample hop, which is what the
    registered set uses with EmoNet's computation otherwise unchanged.
    A librosa-style variant (centred frames, Slaney filters) is available
    through the keyword arguments.

Frame times follow openSMILE's convention used by :class:`Frames`: frame
:math:`k` has time :math:`k \cdot \mathrm{hop}`, which is where its analysis
window starts for the registered sets (Kaldi ``snip_edges=True``, EmoNet
``center=False``); with ``snip_edges=False`` / ``center=True`` the window of
frame :math:`k` is instead centred near :math:`k \cdot \mathrm{hop}`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Literal

import numpy as np

from contaffect.errors import ConfigError, FeatureError
from contaffect.features.audio import TARGET_SR
from contaffect.features.frames import Frames
from contaffect.features.smile import FeatureSet, get_feature_set

#: ``std::numeric_limits<float>::epsilon()``, Kaldi's floor before the log.
FLOAT_EPS = float(np.finfo(np.float32).eps)

KaldiWindow = Literal["povey", "hanning", "hamming", "hann", "rectangular", "blackman", "sine"]
Cmvn = Literal["utterance", "none"]


# ---------------------------------------------------------------- mel scales
def mel_kaldi(freq: np.ndarray | float) -> np.ndarray:
    r"""Kaldi's / HTK's mel scale :math:`m(f) = 1127 \ln(1 + f / 700)` (O'Shaughnessy, 1987)."""
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def mel_kaldi_inverse(mel: np.ndarray | float) -> np.ndarray:
    r""":math:`f(m) = 700 (e^{m / 1127} - 1)`, the inverse of :func:`mel_kaldi`."""
    return 700.0 * np.expm1(np.asarray(mel, dtype=np.float64) / 1127.0)


_SLANEY_F_SP = 200.0 / 3.0            # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP   # 15
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def mel_slaney(freq: np.ndarray | float, htk: bool = False) -> np.ndarray:
    r"""Slaney's mel scale (Auditory Toolbox, 1998), or HTK's with ``htk=True``.

    Slaney: linear below 1 kHz, :math:`m = 3f/200`; logarithmic above,
    :math:`m = 15 + \ln(f/1000) \cdot 27 / \ln 6.4`. HTK:
    :math:`m = 2595 \log_{10}(1 + f/700)` (the convention of librosa's
    ``hz_to_mel``).
    """
    f = np.asarray(freq, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mel = f / _SLANEY_F_SP
    high = f >= _SLANEY_MIN_LOG_HZ
    return np.where(high, _SLANEY_MIN_LOG_MEL
                    + np.log(np.maximum(f, _SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ)
                    / _SLANEY_LOGSTEP, mel)


def mel_slaney_inverse(mel: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """The inverse of :func:`mel_slaney`."""
    m = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= _SLANEY_MIN_LOG_MEL,
                    _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL)),
                    _SLANEY_F_SP * m)


# ---------------------------------------------------------------- filter matrices
def _check_bands(weights: np.ndarray, what: str) -> np.ndarray:
    empty = np.flatnonzero(~np.any(weights > 0, axis=0))
    if empty.size:
        raise ConfigError(f"{what}: mel band(s) {empty.tolist()} contain no FFT bin; "
                          "use fewer bands or a longer FFT")
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=32)
def kaldi_mel_banks(n_mels: int, n_fft: int, sr: float = TARGET_SR, low_freq: float = 20.0,
                    high_freq: float = 0.0) -> np.ndarray:
    r"""Kaldi's triangular mel filters as a ``(n_fft // 2 + 1, n_mels)`` matrix.

    With :math:`m(f) = 1127 \ln(1 + f/700)`, band :math:`b = 0 \dots B-1` has
    edges :math:`l_b = m_{lo} + b\,\delta`, centre :math:`c_b = l_b + \delta`
    and right edge :math:`r_b = l_b + 2\delta`, where
    :math:`\delta = (m_{hi} - m_{lo}) / (B + 1)`. FFT bin :math:`k` at
    :math:`f_k = k\,\mathrm{sr}/N` weighs, when :math:`l_b < m(f_k) < r_b`,

    .. math:: w_{kb} = \frac{m(f_k) - l_b}{c_b - l_b} \ (m(f_k) \le c_b), \qquad
              \frac{r_b - m(f_k)}{r_b - c_b} \ \text{otherwise},

    i.e. the triangles are linear in the *mel* domain (Kaldi's
    ``MelBanks``), not in Hz as in librosa. Kaldi uses the bins
    :math:`k < N/2` only, so the Nyquist row is zero.

    Parameters
    ----------
    n_mels
        Number of bands :math:`B` (at least 3, as in Kaldi).
    n_fft
        Padded frame length :math:`N` (even).
    sr
        Sampling rate in Hz.
    low_freq, high_freq
        Band edges in Hz; ``high_freq <= 0`` means Nyquist + ``high_freq``
        (Kaldi's ``--high-freq``).
    """
    if n_mels < 3:
        raise ConfigError(f"Kaldi mel banks need at least 3 bands, got {n_mels}")
    if n_fft % 2:
        raise ConfigError(f"padded frame length must be even, got {n_fft}")
    nyquist = 0.5 * sr
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not (0.0 <= low_freq < nyquist and 0.0 < high <= nyquist and high > low_freq):
        raise ConfigError(f"bad mel band edges low_freq={low_freq} and high_freq={high_freq} "
                          f"for Nyquist {nyquist:g} Hz")
    mel_lo, mel_hi = float(mel_kaldi(low_freq)), float(mel_kaldi(high))
    delta = (mel_hi - mel_lo) / (n_mels + 1)
    left = mel_lo + delta * np.arange(n_mels)
    centre, right = left + delta, left + 2 * delta
    mel = mel_kaldi(np.arange(n_fft // 2) * (sr / n_fft))[:, None]
    rising = (mel - left) / (centre - left)
    falling = (right - mel) / (right - centre)
    weights = np.where((mel > left) & (mel < right),
                       np.where(mel <= centre, rising, falling), 0.0)
    return _check_bands(np.vstack([weights, np.zeros((1, n_mels))]), "Kaldi mel banks")


@lru_cache(maxsize=32)
def tf_mel_matrix(n_mels: int, n_fft: int, sr: float = TARGET_SR, f_min: float = 20.0,
                  f_max: float | None = None) -> np.ndarray:
    r"""TensorFlow's ``linear_to_mel_weight_matrix`` as a ``(n_fft // 2 + 1, n_mels)`` matrix.

    The :math:`K = N/2 + 1` spectrogram bins sit at
    :math:`f_k = k \cdot (\mathrm{sr}/2) / (K - 1)`; band edges are
    :math:`B + 2` points equally spaced on :math:`m(f) = 1127 \ln(1+f/700)`
    from :math:`m(f_{min})` to :math:`m(f_{max})`, and
    :math:`w_{kb} = \max(0, \min(\frac{m_k - l_b}{c_b - l_b},
    \frac{r_b - m_k}{r_b - c_b}))`: triangles in the mel domain with peak 1
    and no area normalisation. The DC bin's row is zero ("HTK excludes the
    spectrogram DC bin"). This is the matrix of EmoNet's ``LogMelgramLayer``.
    """
    nyquist = 0.5 * sr
    f_max = nyquist if f_max is None else f_max
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ConfigError(f"need 0 <= f_min < f_max <= {nyquist:g} Hz, got {f_min}, {f_max}")
    n_bins = n_fft // 2 + 1
    mel = mel_kaldi(np.linspace(0.0, nyquist, n_bins)[1:])[:, None]
    edges = np.linspace(float(mel_kaldi(f_min)), float(mel_kaldi(f_max)), n_mels + 2)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((mel - left) / (centre - left),
                                         (right - mel) / (right - centre)))
    return _check_bands(np.vstack([np.zeros((1, n_mels)), weights]), "TensorFlow mel matrix")


@lru_cache(maxsize=32)
def slaney_mel_matrix(n_mels: int, n_fft: int, sr: float = TARGET_SR, f_min: float = 0.0,
                      f_max: float | None = None, htk: bool = False,
                      norm: Literal["slaney"] | None = "slaney") -> np.ndarray:
    r"""librosa-style mel filters (``librosa.filters.mel``), transposed to ``(n_fft // 2 + 1, n_mels)``.

    Band edges :math:`h_0 < \dots < h_{B+1}` are equally spaced on Slaney's
    (or with ``htk`` HTK's) mel scale, mapped back to Hz; the triangles are
    linear in *Hz*: :math:`w_{kb} = \max(0, \min(\frac{f_k - h_b}{h_{b+1} - h_b},
    \frac{h_{b+2} - f_k}{h_{b+2} - h_{b+1}}))` at :math:`f_k = k\,\mathrm{sr}/N`.
    ``norm="slaney"`` scales band :math:`b` by :math:`2 / (h_{b+2} - h_b)`
    (unit area in Hz, Slaney's Auditory Toolbox), ``None`` keeps peak 1.
    """
    nyquist = 0.5 * sr
    f_max = nyquist if f_max is None else f_max
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ConfigError(f"need 0 <= f_min < f_max <= {nyquist:g} Hz, got {f_min}, {f_max}")
    if norm not in ("slaney", None):
        raise ConfigError(f"mel filter norm must be 'slaney' or None, got {norm!r}")
    freqs = np.linspace(0.0, nyquist, n_fft // 2 + 1)
    hz = mel_slaney_inverse(np.linspace(float(mel_slaney(f_min, htk)),
                                        float(mel_slaney(f_max, htk)), n_mels + 2), htk)
    width = np.diff(hz)
    rising = (freqs[:, None] - hz[None, :-2]) / width[None, :-1]
    falling = (hz[None, 2:] - freqs[:, None]) / width[None, 1:]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= 2.0 / (hz[2:] - hz[:-2])
    return _check_bands(weights, "Slaney mel matrix")


# ---------------------------------------------------------------- framing
def _as_signal(signal: np.ndarray) -> np.ndarray:
    x = np.asarray(signal)
    if x.ndim != 1:
        raise FeatureError(f"expected a mono signal of shape (n,), got shape {x.shape}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise FeatureError("signal contains NaN or infinite samples")
    return x


def _n_samples(sr: float, seconds: float, what: str) -> int:
    """``sr * seconds`` as Kaldi does (truncation), robust to float error (0.025 * 16000)."""
    exact = sr * seconds
    n = int(round(exact)) if abs(exact - round(exact)) < 1e-6 else int(exact)
    if n < 1:
        raise ConfigError(f"{what} of {seconds} s is less than one sample at {sr:g} Hz")
    return n


def _too_short(n: int, sr: float, length: int) -> FeatureError:
    return FeatureError(f"signal of {n} samples ({n / sr:.4f} s) is shorter than one "
                        f"{length}-sample ({length / sr:.4f} s) analysis frame: no log-Mel frame")


def _windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Frames ``x[s:s + length]`` for equally spaced starts, mirrored at the edges as Kaldi does."""
    n = x.size
    step = int(starts[1] - starts[0]) if starts.size > 1 else 1
    if starts[0] >= 0 and starts[-1] + length <= n and step > 0:
        view = np.lib.stride_tricks.sliding_window_view(x, length)
        return view[starts[0]::step][:starts.size].copy()
    idx = starts[:, None] + np.arange(length)[None, :]
    # Kaldi's ExtractWindow mirrors at the ends: -1 -> 0, -2 -> 1, n -> n - 1, ... (period 2n)
    idx = np.mod(idx, 2 * n)
    return x[np.where(idx >= n, 2 * n - 1 - idx, idx)]


def _kaldi_window(kind: str, length: int, blackman_coeff: float) -> np.ndarray:
    i = np.arange(length, dtype=np.float64)
    a = 2 * np.pi / (length - 1) if length > 1 else 0.0
    if kind == "povey":
        return (0.5 - 0.5 * np.cos(a * i)) ** 0.85
    if kind == "hanning":
        return 0.5 - 0.5 * np.cos(a * i)
    if kind == "hann":                                    # periodic
        return 0.5 - 0.5 * np.cos(2 * np.pi / length * i)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(a * i)
    if kind == "sine":
        return np.sin(0.5 * a * i)
    if kind == "rectangular":
        return np.ones(length)
    if kind == "blackman":
        return blackman_coeff - 0.5 * np.cos(a * i) + (0.5 - blackman_coeff) * np.cos(2 * a * i)
    raise ConfigError(f"unknown window {kind!r}; choose one of povey, hanning, hann, hamming, "
                      "sine, rectangular, blackman")


def _cmvn(values: np.ndarray, cmvn: str) -> np.ndarray:
    if cmvn == "none":
        return values
    if cmvn != "utterance":
        raise ConfigError(f"cmvn must be 'utterance' or 'none', got {cmvn!r}")
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    constant = std <= 1e-10 * np.maximum(1.0, np.abs(mean))
    return np.where(constant, 0.0, (values - mean) / np.where(constant, 1.0, std))


# ---------------------------------------------------------------- Kaldi fbank
def kaldi_fbank(
    signal: np.ndarray,
    sr: float = TARGET_SR,
    *,
    n_mels: int = 40,
    frame_length: float = 0.025,
    frame_shift: float = 0.010,
    preemphasis: float = 0.97,
    window: KaldiWindow = "povey",
    blackman_coeff: float = 0.42,
    low_freq: float = 20.0,
    high_freq: float = 0.0,
    remove_dc: bool = True,
    snip_edges: bool = True,
    round_to_power_of_two: bool = True,
    use_energy: bool = False,
    raw_energy: bool = True,
    energy_floor: float = 0.0,
    dither: float = 0.0,
    seed: int = 0,
    use_log_fbank: bool = True,
    use_power: bool = True,
    cmvn: Cmvn = "utterance",
) -> np.ndarray:
    r"""Kaldi filterbank features (``compute-fbank-feats``), optionally mean/variance normalised.

    For frame :math:`t` of :math:`L = \mathrm{sr} \cdot` ``frame_length``
    samples starting at :math:`t S`, :math:`S = \mathrm{sr} \cdot`
    ``frame_shift`` (``snip_edges=True``: :math:`T = 1 + \lfloor (n - L)/S
    \rfloor` frames, only whole frames; ``False``: :math:`T = \lfloor (n +
    S/2) / S \rfloor` frames centred at :math:`tS + S/2`, mirrored at the
    signal's ends), Kaldi's ``ProcessWindow`` and ``FbankComputer`` compute

    1. dither: :math:`x_i \mathrel{+}= d\,\varepsilon_i`,
       :math:`\varepsilon_i \sim \mathcal N(0, 1)` (numpy's generator seeded
       with ``seed``, so not Kaldi's random numbers; off by default);
    2. DC removal: :math:`x_i \mathrel{-}= \bar x`;
    3. pre-emphasis within the frame: :math:`x_i \leftarrow x_i - \alpha x_{i-1}`
       for :math:`i \ge 1` and :math:`x_0 \leftarrow (1 - \alpha) x_0`;
    4. the window, by default Povey's
       :math:`w_i = (\tfrac12 - \tfrac12 \cos \frac{2\pi i}{L - 1})^{0.85}`;
    5. zero padding to :math:`N` = the next power of two (512 for 400),
       :math:`P_k = |X_k|^2` (or :math:`|X_k|` with ``use_power=False``);
    6. :math:`E_b = \sum_k w_{kb} P_k` with Kaldi's mel triangles
       (:func:`kaldi_mel_banks`, :math:`m(f) = 1127 \ln(1 + f/700)`);
    7. :math:`\ln \max(E_b, \epsilon)`, :math:`\epsilon` = float32 epsilon
       (:math:`1.19 \cdot 10^{-7}`).

    ``use_energy`` prepends Kaldi's log energy column (of the frame after
    step 2 with ``raw_energy``, else after step 4, floored at
    :math:`\ln` ``energy_floor`` when that is positive). Then ``cmvn="utterance"``
    standardises every column over the utterance's frames,
    :math:`(y_{tb} - \mu_b) / \sigma_b` (population :math:`\sigma`, as
    Kaldi's ``apply-cmvn --norm-vars``; a constant column becomes 0), which
    is seed 000's front end; ``"none"`` returns Kaldi's numbers.

    The input is used at its own scale (contaffect reads audio as floats in
    [-1, 1]; Kaldi tools read 16-bit integers, which adds
    :math:`2 \ln 32768 \approx 20.79` to every unfloored log energy and
    nothing after CMVN).

    Parameters
    ----------
    signal
        Mono samples, shape ``(n,)``.
    sr
        Sampling rate in Hz.
    n_mels, frame_length, frame_shift, preemphasis, window, blackman_coeff, low_freq, high_freq,
    remove_dc, snip_edges, round_to_power_of_two, use_energy, raw_energy, energy_floor, dither,
    use_log_fbank, use_power
        Kaldi's options of the same meaning (``--num-mel-bins``,
        ``--frame-length`` in seconds here, ``--preemphasis-coefficient``,
        ``--window-type``, ``--high-freq`` (<= 0: Nyquist + value), ...),
        with Kaldi's defaults except ``n_mels`` (40) and ``dither`` (0).
    seed
        Seed of the dither noise.
    cmvn
        ``"utterance"`` (default) or ``"none"``.

    Returns
    -------
    numpy.ndarray
        ``(T, n_mels)`` float32 (``n_mels + 1`` columns with ``use_energy``,
        energy first).

    Raises
    ------
    FeatureError
        If the signal is shorter than one frame (``snip_edges``) or empty.
    ConfigError
        For impossible options (bad band edges, empty bands, unknown window).
    """
    x = _as_signal(signal)
    length = _n_samples(sr, frame_length, "frame_length")
    shift = _n_samples(sr, frame_shift, "frame_shift")
    n = x.size
    if snip_edges:
        n_frames = 0 if n < length else 1 + (n - length) // shift
        starts = np.arange(n_frames) * shift
    else:
        n_frames = (n + shift // 2) // shift if n else 0
        starts = np.arange(n_frames) * shift + shift // 2 - length // 2
    if n_frames == 0:
        raise _too_short(n, sr, length)
    if not 0.0 <= preemphasis <= 1.0:
        raise ConfigError(f"preemphasis must be in [0, 1], got {preemphasis}")
    padded = 1 << (length - 1).bit_length() if round_to_power_of_two else length
    banks = kaldi_mel_banks(n_mels, padded, float(sr), float(low_freq), float(high_freq))
    win = _kaldi_window(window, length, blackman_coeff)

    frames = _windows(x, starts, length)                      # (T, L), a copy
    if dither != 0.0:
        frames += dither * np.random.default_rng(seed).standard_normal(frames.shape)
    if remove_dc:
        frames -= frames.mean(axis=1, keepdims=True)
    if use_energy and raw_energy:
        log_energy = np.log(np.maximum(np.einsum("ij,ij->i", frames, frames), FLOAT_EPS))
    if preemphasis != 0.0:
        frames[:, 1:] -= preemphasis * frames[:, :-1]         # right side is evaluated first
        frames[:, 0] *= 1.0 - preemphasis
    frames *= win
    if use_energy and not raw_energy:
        log_energy = np.log(np.maximum(np.einsum("ij,ij->i", frames, frames), FLOAT_EPS))
    spectrum = np.fft.rfft(frames, n=padded, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    if not use_power:
        power = np.sqrt(power)
    values = power @ banks
    if use_log_fbank:
        values = np.log(np.maximum(values, FLOAT_EPS))
    if use_energy:
        if energy_floor > 0.0:
            log_energy = np.maximum(log_energy, math.log(energy_floor))
        values = np.column_stack([log_energy, values])
    return np.ascontiguousarray(_cmvn(values, cmvn), dtype=np.float32)


# ---------------------------------------------------------------- EmoNet
def emonet_logmel(
    signal: np.ndarray,
    sr: float = TARGET_SR,
    *,
    n_mels: int = 64,
    n_fft: int = 512,
    hop_length: int = 256,
    window: Literal["hann", "hamming", "rectangular"] = "hann",
    center: bool = False,
    pad_mode: Literal["constant", "reflect"] = "constant",
    f_min: float = 20.0,
    f_max: float | None = None,
    power: float = 2.0,
    filters: Literal["tensorflow", "slaney"] = "tensorflow",
    htk: bool = False,
    norm: Literal["slaney"] | None = "slaney",
    log: Literal["ln", "db"] = "ln",
    eps: float = 1e-6,
    top_db: float | None = 80.0,
    cmvn: Cmvn = "none",
) -> np.ndarray:
    r"""Log-Mel spectrogram as EmoNet's ``LogMelgramLayer`` computes it (seed 001's front end).

    EmoNet (Gerczuk et al., 2023; ``emo-net/models/input_layers.py``) runs
    ``tf.signal.stft(x, frame_length=n_fft, frame_step=hop, pad_end=False)``,
    squares the magnitude, multiplies by
    ``tf.signal.linear_to_mel_weight_matrix`` and takes
    ``log(mel + 1e-6)``. With the defaults here:

    1. frames :math:`x_t[i] = x[tH + i]`, :math:`i < N`, :math:`T = 1 +
       \lfloor (n - N) / H \rfloor` (no centring, no padding; ``center=True``
       pads :math:`N/2` samples on both sides (``pad_mode``) like librosa,
       :math:`T = 1 + \lfloor n / H \rfloor`);
    2. periodic Hann window :math:`w_i = \tfrac12 - \tfrac12 \cos(2\pi i / N)`;
    3. :math:`S_{tk} = |\mathrm{DFT}_N(w x_t)_k|^{p}`, :math:`p` = ``power``
       (2: power spectrum, as EmoNet; 1: magnitude);
    4. :math:`M_{tb} = \sum_k S_{tk} W_{kb}` with ``filters="tensorflow"``
       (:func:`tf_mel_matrix`: HTK mel, triangles in the mel domain, peak 1)
       or ``"slaney"`` (:func:`slaney_mel_matrix`, librosa's default filters
       with ``htk`` / ``norm``);
    5. ``log="ln"``: :math:`\ln(M_{tb} + \epsilon)`, :math:`\epsilon = 10^{-6}`
       (EmoNet's ``return_decibel=False``, used by its ResNet);
       ``"db"``: :math:`10 \log_{10}((M_{tb} + \epsilon) / \max M)` clipped
       below at :math:`\max - ` ``top_db`` (its ``return_decibel=True``, with
       the maximum over the utterance);
    6. optional per-utterance CMVN (``cmvn="utterance"``; EmoNet has none).

    ``center=True, filters="slaney", log="ln", eps`` small reproduces
    ``log(librosa.feature.melspectrogram(...) + eps)``.

    Parameters
    ----------
    signal
        Mono samples, shape ``(n,)``, floats in [-1, 1] as EmoNet reads WAV.
    sr
        Sampling rate in Hz.
    n_mels, n_fft, hop_length
        Bands, frame (= FFT) length and hop in samples (EmoNet: 128, 1024,
        512; seed 001: 64, 512, 256).
    window, center, pad_mode, f_min, f_max, power, filters, htk, norm, log, eps, top_db, cmvn
        See above; ``f_max=None`` is Nyquist (EmoNet: 20 Hz to 8 kHz at 16 kHz).

    Returns
    -------
    numpy.ndarray
        ``(T, n_mels)`` float32.
    """
    x = _as_signal(signal)
    if n_fft < 2 or hop_length < 1:
        raise ConfigError(f"need n_fft >= 2 and hop_length >= 1, got {n_fft}, {hop_length}")
    if center:
        if pad_mode not in ("constant", "reflect"):
            raise ConfigError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")
        if x.size == 0:
            raise _too_short(0, sr, n_fft)
        x = np.pad(x, n_fft // 2, mode=pad_mode)
    n_frames = 0 if x.size < n_fft else 1 + (x.size - n_fft) // hop_length
    if n_frames == 0:
        raise _too_short(x.size, sr, n_fft)
    i = np.arange(n_fft, dtype=np.float64)
    if window == "hann":
        win = 0.5 - 0.5 * np.cos(2 * np.pi * i / n_fft)
    elif window == "hamming":
        win = 0.54 - 0.46 * np.cos(2 * np.pi * i / n_fft)
    elif window == "rectangular":
        win = np.ones(n_fft)
    else:
        raise ConfigError(f"window must be hann, hamming or rectangular, got {window!r}")
    if filters == "tensorflow":
        weights = tf_mel_matrix(n_mels, n_fft, float(sr), float(f_min),
                                None if f_max is None else float(f_max))
    elif filters == "slaney":
        weights = slaney_mel_matrix(n_mels, n_fft, float(sr), float(f_min),
                                    None if f_max is None else float(f_max), bool(htk), norm)
    else:
        raise ConfigError(f"filters must be 'tensorflow' or 'slaney', got {filters!r}")

    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length][:n_frames]
    spectrum = np.fft.rfft(frames * win, axis=1)
    spec = spectrum.real ** 2 + spectrum.imag ** 2
    if power != 2.0:
        spec = spec ** (power / 2.0)
    mel = spec @ weights
    if log == "ln":
        values = np.log(mel + eps)
    elif log == "db":
        ref = max(float(mel.max()), np.finfo(np.float64).tiny)
        values = 10.0 * np.log10((mel + eps) / ref)
        if top_db is not None:
            if top_db < 0:
                raise ConfigError(f"top_db must be non-negative, got {top_db}")
            values = np.maximum(values, values.max() - top_db)
    else:
        raise ConfigError(f"log must be 'ln' or 'db', got {log!r}")
    return np.ascontiguousarray(_cmvn(values, cmvn), dtype=np.float32)


# ---------------------------------------------------------------- extractor
#: The front ends a log-Mel :class:`FeatureSet` can name in its ``front_end`` parameter.
FRONT_ENDS: dict[str, Callable[..., np.ndarray]] = {
    "kaldi_fbank": kaldi_fbank,
    "emonet_logmel": emonet_logmel,
}


def frame_hop(front_end: str, options: dict, sr: float = TARGET_SR) -> tuple[int, float]:
    """``(hop in samples, hop in seconds)`` of a front end with these options."""
    if front_end == "kaldi_fbank":
        shift = _n_samples(sr, options.get("frame_shift", 0.010), "frame_shift")
    elif front_end == "emonet_logmel":
        shift = int(options.get("hop_length", 256))
    else:
        raise ConfigError(f"unknown log-Mel front end {front_end!r}; choose one of "
                          f"{sorted(FRONT_ENDS)}")
    return shift, shift / sr


class LogMelExtractor:
    """Extract a log-Mel feature set from 16 kHz mono signals (same interface as SmileExtractor).

    The feature set's ``params`` name the front end (``front_end``: a key of
    :data:`FRONT_ENDS`), a ``revision`` (part of the store id only) and every
    keyword argument of that function, so that the store id hashes all of
    them.

    Parameters
    ----------
    feature_set
        A name from :data:`~contaffect.features.smile.FEATURE_SETS` (e.g.
        ``"logmel40_kaldi"``) or a :class:`FeatureSet`.

    Attributes
    ----------
    names
        ``mel_00``, ``mel_01``, ... (``log_energy`` first if the front end
        adds Kaldi's energy column).
    hop
        Frame step in seconds; frame :math:`k` has time ``k * hop``.
    """

    def __init__(self, feature_set: str | FeatureSet) -> None:
        fs = feature_set if isinstance(feature_set, FeatureSet) else get_feature_set(feature_set)
        self.feature_set = fs
        options = dict(fs.params)
        front_end = options.pop("front_end", None)
        options.pop("revision", None)
        if front_end not in FRONT_ENDS:
            raise ConfigError(f"{fs.name}: unknown log-Mel front end {front_end!r}; choose one "
                              f"of {sorted(FRONT_ENDS)}")
        self._function = FRONT_ENDS[front_end]
        self._options = options
        self._shift, self.hop = frame_hop(front_end, options)
        if fs.kind != "lld" or fs.hop is None or abs(fs.hop - self.hop) > 1e-9:
            raise ConfigError(f"{fs.name}: log-Mel sets are kind 'lld' with hop {self.hop:g} s "
                              f"here, the set says kind {fs.kind!r}, hop {fs.hop}")
        n_mels = int(options.get("n_mels", 40 if front_end == "kaldi_fbank" else 64))
        width = max(2, len(str(n_mels - 1)))
        energy = ("log_energy",) if options.get("use_energy", False) else ()
        self.names: tuple[str, ...] = energy + tuple(f"mel_{b:0{width}d}" for b in range(n_mels))
        if len(self.names) != fs.n_features:
            raise ConfigError(f"{fs.name}: the front end gives {len(self.names)} features, "
                              f"the set says {fs.n_features}")

    def __call__(self, signal: np.ndarray, sampling_rate: int = TARGET_SR) -> Frames:
        """Log-Mel frames of one signal; times ``k * hop`` (see the module docstring)."""
        if sampling_rate != TARGET_SR:
            raise FeatureError(f"extractor expects {TARGET_SR} Hz input, got {sampling_rate}")
        values = self._function(signal, TARGET_SR, **self._options)
        times = np.arange(values.shape[0]) * self._shift / TARGET_SR
        return Frames(values, times, self.names, 1.0 / self.hop)
