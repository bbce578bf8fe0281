"""What the feature store's checksums cost on a cached run.

A second run of an experiment finds every entry cached: ``extract_corpus`` checks each
entry (``has``: audio fingerprint and SHA-256 of values and times) and
``load_corpus_features`` reads it (``get``: no second hash for an entry verified
unchanged in the same process). This script times that cached pass on a corpus that is
already in a store, with the checksums verified and, in the same run, with the hashing
skipped, and prints the ratio.

    python benchmarks/store_read.py --corpus ../shared/data/ravdess --store STORE [--name NAME]

The store must already hold the corpus (``contaffect extract CORPUS --store STORE``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from contaffect.corpus import load_corpus
from contaffect.features import extract_corpus, load_corpus_features
from contaffect.features import store as store_mod


def cached_pass(corpus, store: str) -> float:
    store_mod._VERIFIED.clear()                    # a fresh process: nothing verified yet
    t0 = time.perf_counter()
    report = extract_corpus(corpus, store, "compare2016_lld", workers=2, progress=False)
    assert not report.extracted, "the store does not hold this corpus yet: extract it first"
    load_corpus_features(corpus, store, "compare2016_lld")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--name", help="corpus name in the store (default: folder name)")
    args = ap.parse_args()
    corpus = load_corpus(args.corpus, name=args.name)
    cached_pass(corpus, args.store)                # warm the page cache
    verified = min(cached_pass(corpus, args.store) for _ in range(3))
    real = store_mod._read_verified
    store_mod._read_verified = lambda h5, known_good=False: real(h5, known_good=True)
    try:
        unhashed = min(cached_pass(corpus, args.store) for _ in range(3))
    finally:
        store_mod._read_verified = real
    print(f"{len(corpus)} entries of {corpus.name}")
    print(f"cached pass, checksums verified:  {verified:6.2f} s")
    print(f"cached pass, hashing skipped:     {unhashed:6.2f} s")
    print(f"ratio verified / skipped:         {verified / unhashed:6.2f}")


if __name__ == "__main__":
    main()
