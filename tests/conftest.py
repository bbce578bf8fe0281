"""Shared fixtures: small generated audio corpora, and the real speech in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def voiced_signal(seconds: float, sr: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A harmonic, amplitude-modulated signal with noise: enough for openSMILE to find voicing."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    x = 0.2 * envelope * x + 0.01 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def write_audio(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1,
                seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = voiced_signal(seconds, sr, seed=seed)
    if channels > 1:
        x = np.column_stack([x * (0.5 + 0.5 * c) for c in range(channels)])
    sf.write(str(path), x, sr)
    return path


def make_folder_corpus(root: Path, n_speakers: int = 2, per_speaker: int = 2,
                       seconds: float = 1.0, traces: bool = False,
                       partitions: bool = False) -> Path:
    """A generic corpus folder: labels.csv, wav files and optional 25 Hz traces.

    With ``partitions`` speaker 0 is "train" and the others "test".
    """
    rows = ["file,speaker,gender,emotion" + (",partition" if partitions else "")]
    rng = np.random.default_rng(1)
    for s in range(n_speakers):
        for u in range(per_speaker):
            rel = f"audio/s{s}_u{u}.wav"
            write_audio(root / rel, seconds, seed=10 * s + u)
            rows.append(f"{rel},spk{s},{'female' if s % 2 else 'male'},{['anger', 'neutral'][u % 2]}"
                        + ((",train" if s == 0 else ",test") if partitions else ""))
            if traces:
                t = np.arange(0, seconds + 1e-9, 0.04)
                for dim in ("arousal", "valence"):
                    vals = rng.uniform(-1, 1, size=(t.size, 3))
                    p = root / "traces" / dim / f"s{s}_u{u}.csv"
                    p.parent.mkdir(parents=True, exist_ok=True)
                    lines = ["time,r1,r2,r3"] + [
                        f"{ti:.2f}," + ",".join(f"{v:.4f}" for v in row) for ti, row in zip(t, vals)
                    ]
                    p.write_text("\n".join(lines) + "\n")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def folder_corpus(tmp_path: Path) -> Path:
    return make_folder_corpus(tmp_path / "corpus")


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real speech not available: {SHARED_DATA} is absent (only in the "
                    "project workspace, never in a user's checkout)")
    return SHARED_DATA
