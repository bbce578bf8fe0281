"""Reading audio for extraction: validate, mix down, resample to 16 kHz.

Empty, truncated and non-audio files raise :class:`~contaffect.errors.AudioError`
with the file and what is wrong; other sample rates and stereo are converted
and reported in :class:`AudioInfo` (the extraction summary says so once).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from contaffect.errors import AudioError

TARGET_SR = 16000
MIN_DURATION_S = 0.1  # ComParE LLDs need at least one 60 ms pitch window and deltas


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`read_audio` found and did.

    Attributes
    ----------
    path
        The file.
    sample_rate
        Its own sampling rate in Hz.
    channels
        Its number of channels.
    duration_s
        Its duration in seconds.
    resampled
        True if it was resampled to the target rate.
    mixed_down
        True if several channels were averaged into one.
    """

    path: str
    sample_rate: int
    channels: int
    duration_s: float
    resampled: bool
    mixed_down: bool


def _wav_data_shortfall(path: Path) -> int:
    """Bytes missing from a RIFF/WAVE file's data chunk (0 when complete or not WAV).

    libsndfile silently reads a truncated WAV up to where it ends, so the
    declared chunk size is checked against the bytes on disk.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while True:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return 0
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):  # streaming writers leave it unset
                    return 0
                return max(0, pos + 8 + csize - size)
            pos += 8 + csize + (csize & 1)


def probe_audio(path: str | Path) -> sf._SoundFileInfo:
    """Check a file's header without decoding it; raise :class:`AudioError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file does not exist")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: audio file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if info.frames == 0:
        raise AudioError(f"{path}: audio file holds no samples")
    missing = _wav_data_shortfall(path)
    if missing:
        raise AudioError(
            f"{path}: WAV file is truncated: {missing} bytes of its data chunk are missing"
        )
    return info


def decode_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file after :func:`probe_audio`, checking it is complete.

    Returns the samples as float32 ``(n_samples, n_channels)`` and the rate.
    Raises :class:`AudioError` for damaged, truncated, non-finite or too short
    audio (under 100 ms).
    """
    path = Path(path)
    info = probe_audio(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: audio file is damaged or truncated ({exc})") from None
    if data.shape[0] < info.frames:
        raise AudioError(
            f"{path}: audio file is truncated: header says {info.frames} samples, "
            f"only {data.shape[0]} could be read"
        )
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    duration = data.shape[0] / sr
    if duration < MIN_DURATION_S:
        raise AudioError(
            f"{path}: audio is {duration * 1000:.0f} ms long, shorter than the "
            f"{MIN_DURATION_S * 1000:.0f} ms that ComParE frames need"
        )
    return data, int(sr)


def read_length(path: str | Path, target_sr: int = TARGET_SR) -> int:
    """Samples :func:`read_audio` gives for a file, from its header alone (no decoding).

    The polyphase resampler returns ``ceil(n * up / down)`` samples, so a
    length is known before the file is read (session plans use it).
    Raises :class:`AudioError` for a file whose header is unusable.
    """
    info = probe_audio(path)
    n, sr = int(info.frames), int(info.samplerate)
    if sr == target_sr:
        return n
    g = gcd(sr, int(target_sr))
    up, down = int(target_sr) // g, sr // g
    return -(-n * up // down)


def read_audio(path: str | Path, target_sr: int = TARGET_SR) -> tuple[np.ndarray, AudioInfo]:
    """Read a file as mono float32 at ``target_sr`` Hz.

    Parameters
    ----------
    path
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    target_sr
        Output rate; other rates are resampled with a polyphase filter
        (:func:`scipy.signal.resample_poly`). ComParE features are defined on
        16 kHz input, and 44.1 kHz input extracts 3x slower.

    Returns
    -------
    signal, info
        ``signal`` has shape ``(n_samples,)``; ``info`` says what was done.
    """
    data, sr = decode_audio(path)
    duration = data.shape[0] / sr
    mixed = data.shape[1] > 1
    signal = data.mean(axis=1) if mixed else data[:, 0]
    resampled = sr != target_sr
    if resampled:
        g = gcd(int(sr), int(target_sr))
        from scipy.signal import resample_poly

        signal = resample_poly(signal, target_sr // g, int(sr) // g).astype(np.float32)
        np.clip(signal, -1.0, 1.0, out=signal)
    return np.ascontiguousarray(signal, dtype=np.float32), AudioInfo(
        str(path), int(sr), int(data.shape[1]), float(duration), resampled, mixed
    )
