"""Bag-of-audio-words: openXBOW behaviour, seeding, codebook reuse."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError, FeatureError
from contaffect.features.boaw import BagOfAudioWords, delta_blocks

NAMES = [f"lld{i}" for i in range(4)] + [f"lld{i}_de" for i in range(4)]


def seqs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(80, 200)), 8)) * np.arange(1, 9) + 3
            for _ in range(n)]


def test_blocks_follow_the_delta_names():
    lld, de = delta_blocks(NAMES)
    assert list(lld) == [0, 1, 2, 3] and list(de) == [4, 5, 6, 7]
    assert len(delta_blocks(["a", "b"])) == 1


@pytest.mark.parametrize("init", ["random", "random++", "kmeans", "kmeans++"])
def test_counts_multiple_assignment_and_log(init):
    train = seqs()
    raw = BagOfAudioWords(codebook_size=20, n_assign=3, init=init, log_tf=False,
                          kmeans_iter=5).fit(train, names=NAMES)
    bags = raw.transform(train)
    assert bags.shape == (6, 40)
    # each frame counts for exactly n_assign words in each of the two codebooks
    for s, b in zip(train, bags):
        assert b[:20].sum() == 3 * len(s) and b[20:].sum() == 3 * len(s)
    logged = BagOfAudioWords(codebook_size=20, n_assign=3, init=init,
                             kmeans_iter=5).fit(train, names=NAMES).transform(train)
    np.testing.assert_allclose(logged, np.log10(1 + bags))


def test_nearest_word_is_counted():
    train = seqs()
    b = BagOfAudioWords(codebook_size=10, n_assign=1, split_deltas=False, log_tf=False).fit(train)
    Z = (train[0] - b.mean_) / b.scale_
    nearest = np.argmin(((Z[:, None, :] - b.codebooks_[0][None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(b.transform(train[:1])[0], np.bincount(nearest, minlength=10))


def test_seeded_saved_and_reused(tmp_path):
    train, other = seqs(), seqs(3, seed=7)
    a = BagOfAudioWords(codebook_size=16, random_state=4).fit(train, names=NAMES)
    b = BagOfAudioWords(codebook_size=16, random_state=4).fit(train, names=NAMES)
    c = BagOfAudioWords(codebook_size=16, random_state=5).fit(train, names=NAMES)
    np.testing.assert_array_equal(a.transform(other), b.transform(other))
    assert not np.array_equal(a.codebooks_[0], c.codebooks_[0])
    path = a.save(tmp_path / "codebook")
    again = BagOfAudioWords.load(path)
    np.testing.assert_array_equal(again.transform(other), a.transform(other))
    assert again.get_params() == a.get_params()
    # the codebook depends on training frames only: transforming more data changes nothing
    before = [w.copy() for w in a.codebooks_]
    a.transform(seqs(2, seed=9))
    assert all(np.array_equal(x, y) for x, y in zip(before, a.codebooks_))


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="init"):
        BagOfAudioWords(init="lbg").fit(seqs(), names=NAMES)
    with pytest.raises(ConfigError, match="n_assign"):
        BagOfAudioWords(codebook_size=5, n_assign=6).fit(seqs(), names=NAMES)
    with pytest.raises(ConfigError, match="feature names"):
        BagOfAudioWords(codebook_size=5, n_assign=2).fit(seqs())
    with pytest.raises(FeatureError, match="cannot make a codebook"):
        BagOfAudioWords(codebook_size=5000, n_assign=2).fit(seqs(), names=NAMES)
    with pytest.raises(ConfigError, match="not fitted"):
        BagOfAudioWords().transform(seqs())
    with pytest.raises(FeatureError, match="NaN"):
        BagOfAudioWords(codebook_size=5, n_assign=2).fit([np.full((10, 8), np.nan)], names=NAMES)
    fitted = BagOfAudioWords(codebook_size=5, n_assign=2).fit(seqs(), names=NAMES)
    with pytest.raises(FeatureError, match="fitted on 8"):
        fitted.transform([np.zeros((10, 3))])
    (tmp_path / "bad.npz").write_text("x")
    with pytest.raises(FeatureError, match="cannot read"):
        BagOfAudioWords.load(tmp_path / "bad.npz")
