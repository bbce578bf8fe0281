"""Look at a synthetic recording: latent truth, each rater, the gold standard, the spectrogram."""

from __future__ import annotations

from pathlib import Path

from contaffect.corpus import load_corpus
from contaffect.features.audio import read_audio
from contaffect.labels import fuse_raters, resample
from contaffect.synth.generate import SIDE_DIR, load_truth


def plot_recording(corpus_root: str | Path, rec_id: str | None = None,
                   out: str | Path | None = None) -> Path:
    """Write a PNG for one recording of a synthetic dimensional corpus.

    Panels: arousal and valence (latent truth, every rater as read back by the
    real loader, the mean-fused gold standard before lag correction), then the
    spectrogram of the audio. Returns the PNG's path (default
    ``<corpus>/synth/plot_<id>.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(corpus_root)
    corpus = load_corpus(root)
    rec = corpus[rec_id] if rec_id else corpus.recordings[0]
    times, arousal, valence = load_truth(root, rec.id)
    fig, axes = plt.subplots(3, 1, figsize=(12, 8), sharex=True,
                             gridspec_kw=dict(height_ratios=[1, 1, 1.2]))
    for ax, dim, truth in ((axes[0], "arousal", arousal), (axes[1], "valence", valence)):
        tr = rec.traces[dim]
        for j, r in enumerate(tr.raters):
            ax.plot(tr.times, tr.values[:, j], lw=0.6, alpha=0.5,
                    label="raters" if j == 0 else None, color="tab:gray")
        gold = fuse_raters(resample(tr, 25.0))
        ax.plot(gold.times, gold.values[:, 0], lw=1.4, color="tab:blue", label="gold (mean)")
        ax.plot(times, truth, lw=1.6, color="tab:red", label="latent truth")
        ax.set_ylabel(dim)
        ax.set_ylim(-1.05, 1.05)
        ax.legend(loc="upper right", fontsize=8, ncol=3)
        ax.grid(alpha=0.3)
    signal, _ = read_audio(rec.audio)
    axes[2].specgram(signal, NFFT=512, Fs=16000, noverlap=384, cmap="magma",
                     vmin=-130, vmax=-40)
    axes[2].set_ylabel("Hz")
    axes[2].set_xlabel("time (s)")
    axes[0].set_title(f"{corpus.name} / {rec.id} (speaker {rec.speaker}): raters react "
                      "late; the gold standard lags the truth until shifted")
    fig.tight_layout()
    out = Path(out) if out else root / SIDE_DIR / f"plot_{rec.id.replace('/', '_')}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
