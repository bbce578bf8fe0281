"""Extraction benchmark: contaffect vs a bare openSMILE loop, workers, cache, memory.

Prints figures and ratios measured within one run (the machines are shared and
noisy, so only ratios are meaningful across runs):

1. contaffect ``extract_corpus`` (1 worker, into an empty store: pre-flight
   check, hashing, HDF5 writes included) against a bare
   ``opensmile.Smile(...).process_file`` loop over the same files, for the same
   130 columns (LLD and LLD-delta levels: two calls) and for the LLD level
   alone (65 columns, one call). Target: ratio <= 1.05.
2. ``workers=2`` against ``workers=1``. Target: speed-up >= 1.7 on 2 cores.
3. Second run (everything read from the store) against the first. Target: >= 50x.
   Beside it, a bare thread pool doing only read + openSMILE with 1 and 2 threads:
   the ceiling of what threads can give on the same files.
4. Peak memory (max RSS) of extracting one 5-minute recording, in a fresh process.

Usage::

    python benchmarks/extraction.py [--data ../shared/data/ravdess] [--limit N]
"""

from __future__ import annotations

import argparse
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opensmile
import soundfile as sf

from contaffect.corpus import load_folder
from contaffect.features import FeatureStore, extract_corpus

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "ravdess"


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bare_loop(files: list[str], levels: list) -> None:
    smiles = [opensmile.Smile(opensmile.FeatureSet.ComParE_2016, lv) for lv in levels]
    for f in files:
        for s in smiles:
            s.process_file(f)


def bare_threads(files: list[str], workers: int) -> None:
    """Only read + openSMILE in a thread pool: the ceiling of thread-level parallelism."""
    from contaffect.features.audio import read_audio
    from contaffect.features.smile import SmileExtractor

    extractor = SmileExtractor("compare2016_lld")

    def one(f: str) -> None:
        extractor(read_audio(f)[0])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, files))


MEMORY_CHILD = r"""
import resource, sys
from contaffect.corpus import Corpus, Recording
from contaffect.features import extract_corpus
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = Corpus("mem", [Recording("long", sys.argv[1], "s")])
extract_corpus(c, sys.argv[2], progress=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before / 1024, after / 1024)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0, help="first N files only (0: all)")
    args = ap.parse_args()
    if not (args.data / "labels.csv").is_file():
        sys.exit(f"no corpus at {args.data} (needs labels.csv); pass --data")
    corpus = load_folder(args.data)
    if args.limit:
        corpus = corpus.select(ids=[r.id for r in corpus][: args.limit])
    files = [str(r.audio) for r in corpus]
    hours = sum(sf.info(f).duration for f in files) / 3600
    print(f"corpus: {args.data} ({len(files)} files, {hours:.2f} h), "
          f"opensmile {opensmile.__version__}")
    # warm the page cache and the libraries once
    bare_loop(files[:5], [opensmile.FeatureLevel.LowLevelDescriptors])

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_bare65 = timed(lambda: bare_loop(files, [opensmile.FeatureLevel.LowLevelDescriptors]))
        t_bare130 = timed(lambda: bare_loop(files, [
            opensmile.FeatureLevel.LowLevelDescriptors,
            opensmile.FeatureLevel.LowLevelDescriptors_Deltas]))
        t_ours1 = timed(lambda: extract_corpus(corpus, FeatureStore(tmp / "w1"), progress=False))
        t_ours2 = timed(lambda: extract_corpus(corpus, FeatureStore(tmp / "w2"), workers=2,
                                               progress=False))
        t_cached = timed(lambda: extract_corpus(corpus, FeatureStore(tmp / "w1"), progress=False))
        t_thr1 = timed(lambda: bare_threads(files, 1))
        t_thr2 = timed(lambda: bare_threads(files, 2))

        print(f"bare openSMILE loop, LLD + delta levels (130 cols): {t_bare130:8.1f} s")
        print(f"bare openSMILE loop, LLD level only (65 cols):      {t_bare65:8.1f} s")
        print(f"contaffect extract, 1 worker (130 cols, stored):    {t_ours1:8.1f} s "
              f"(RTF {t_ours1 / (hours * 3600):.4f})")
        print(f"contaffect extract, 2 workers:                      {t_ours2:8.1f} s")
        print(f"contaffect second run (from the store):             {t_cached:8.2f} s")
        print(f"ratio ours / bare, same 130 columns: {t_ours1 / t_bare130:.3f}  (target <= 1.05)")
        print(f"ratio ours / bare LLD level only:    {t_ours1 / t_bare65:.3f}")
        print(f"speed-up 2 workers vs 1:             {t_ours1 / t_ours2:.2f}  (target >= 1.7)")
        print(f"cache speed-up, first / second run:  {t_ours1 / t_cached:.0f}x  (target >= 50x)")
        print(f"bare thread pool (read + openSMILE only): 1 thread {t_thr1:.1f} s, 2 threads "
              f"{t_thr2:.1f} s, speed-up {t_thr1 / t_thr2:.2f} (the ceiling for workers)")

        # one 5-minute recording built from the corpus' own speech
        speech, total = [], 0
        for f in files:
            x, sr = sf.read(f, dtype="float32")
            speech.append(x)
            total += x.size
            if total >= 300 * sr:
                break
        long = np.concatenate(speech)[: 300 * sr]
        if long.size < 300 * sr:
            long = np.resize(long, 300 * sr)
        wav = tmp / "five_minutes.wav"
        sf.write(wav, long, sr)
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(wav), str(tmp / "mem")],
                             capture_output=True, text=True, check=True).stdout.split()
        before, after = float(out[0]), float(out[1])
        print(f"peak RSS for one 5-minute recording: {after:.0f} MiB "
              f"({after - before:.0f} MiB above the {before:.0f} MiB after imports)")


if __name__ == "__main__":
    main()
