"""Neural utterance systems on the CPU: front-end speed and training throughput.

Prints, measured in one run on the same synthetic signals:

- the log-Mel front ends' real-time factor (seconds of compute per second of audio)
  and, where `kaldi-native-fbank` is installed, ours against it;
- training utterances per second for one epoch of each registered network (seed 000's
  LSTM / CNN / CNN-LSTM on 40 bands at 100 frames/s; seed 001's ResNet on 64 bands at
  62.5 frames/s, CPU width 0.25 and the paper's 1.0), for utterances of a given length,
  so that a user can plan: epochs x utterances / throughput.

Usage::

    python benchmarks/neural.py [--seconds 3.5] [--utterances 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def front_ends(seconds: float, repeats: int = 5) -> None:
    from contaffect.features.logmel import emonet_logmel, kaldi_fbank

    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)
    rows = []
    for name, fn in (("logmel40_kaldi", kaldi_fbank), ("logmel64_emonet", emonet_logmel)):
        best = min(_timed(fn, x) for _ in range(repeats))
        rows.append((name, best))
    try:
        import kaldi_native_fbank as knf

        def reference(sig):
            opts = knf.FbankOptions()
            opts.frame_opts.dither = 0.0
            opts.mel_opts.num_bins = 40
            fb = knf.OnlineFbank(opts)
            fb.accept_waveform(16000, sig.tolist())
            fb.input_finished()
            return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])

        rows.append(("kaldi-native-fbank (reference)", min(_timed(reference, x)
                                                           for _ in range(repeats))))
    except ImportError:
        pass
    print(f"front ends on {seconds:.1f} s of audio (best of {repeats}):")
    for name, t in rows:
        print(f"  {name:32s} {1e3 * t:8.2f} ms   real-time factor {t / seconds:.5f}")
    if len(rows) == 3:
        print(f"  ratio kaldi-native-fbank / ours: {rows[2][1] / rows[0][1]:.2f}")


def _timed(fn, x) -> float:
    t = time.perf_counter()
    fn(x)
    return time.perf_counter() - t


def training(seconds: float, n: int) -> None:
    from contaffect.features.sequences import Sequences
    from contaffect.models.sequence_classifier import SequenceClassifier

    rng = np.random.default_rng(0)
    y = np.array(["low", "high"] * (n // 2), dtype=object)
    systems = [("lstm", 40, 100.0, {}), ("cnn", 40, 100.0, {}), ("cnn_lstm", 40, 100.0, {}),
               ("resnet", 64, 62.5, dict(width=0.25, lr_steps=(0.1,), crop_s=5.0)),
               ("resnet", 64, 62.5, dict(width=1.0, lr_steps=(0.1,), crop_s=5.0))]
    print(f"\ntraining, one epoch of {n} utterances of {seconds:.1f} s (batch 32, CPU):")
    for arch, bands, rate, kw in systems:
        T = int(seconds * rate)
        X = Sequences([rng.standard_normal((T, bands)).astype(np.float32) for _ in range(n)],
                      rate=rate)
        m = SequenceClassifier(arch, max_epochs=1, validation_fraction=0.0, **kw)
        m.fit(X[:8], y[:8])                       # warm-up: imports, allocator
        t = time.perf_counter()
        m.fit(X, y)
        dt = time.perf_counter() - t
        label = arch + (f" (width {kw['width']})" if "width" in kw else "")
        print(f"  {label:22s} {m.n_parameters():>10,d} parameters  {n / dt:8.1f} utt/s"
              f"  ({dt:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.5)
    ap.add_argument("--utterances", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    front_ends(a.seconds)
    training(a.seconds, a.utterances)


if __name__ == "__main__":
    main()
