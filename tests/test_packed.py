"""Packed feature blocks: the stacked training matrix is a view, and gaps are never read."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.features.packed import pack, packed_span
from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import data_fingerprint, predict_frames, train

MODEL = ModelConfig(units=(6, 4), n_steps=4, context_s=1.0)


def _corpus(seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    feats = {f"r{i}": rng.standard_normal((60 + 9 * i, 5)).astype(np.float32) for i in range(4)}
    ys = {k: np.tanh(v[:, :2].sum(1)).astype(np.float32) for k, v in feats.items()}
    return feats, ys


def test_pack_gives_row_views_of_one_block_with_the_same_values():
    feats, _ = _corpus()
    packed = pack(dict(feats))
    assert all(np.array_equal(packed[k], feats[k]) for k in feats)
    block, starts = packed_span(list(packed.values()))
    assert all(np.shares_memory(block, v) for v in packed.values())
    assert starts.tolist() == np.cumsum([0] + [v.shape[0] for v in feats.values()])[:-1].tolist()


def test_pack_transform_and_consume_free_the_inputs():
    feats, _ = _corpus()
    source = dict(feats)
    packed = pack(source, lambda k, x: 2 * x, consume=True)
    assert source == {}                                      # every input given up as copied
    assert all(np.allclose(packed[k], 2 * feats[k]) for k in feats)
    with pytest.raises(ValueError, match="one width"):
        pack({"a": np.zeros((3, 2)), "b": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="changed the shape"):
        pack({"a": np.zeros((3, 2))}, lambda k, x: x[:2])


def test_packed_span_refuses_what_is_not_ordered_rows_of_one_block():
    feats, _ = _corpus()
    packed = pack(dict(feats))
    views = list(packed.values())
    assert packed_span(list(feats.values())) is None          # separate arrays
    assert packed_span(views[::-1]) is None                    # out of order
    assert packed_span([views[0], views[0]]) is None           # overlapping
    assert packed_span([views[0][:, :3]]) is None              # a column cut
    assert packed_span([views[0].astype(np.float64)]) is None  # another dtype
    assert packed_span([]) is None


def test_sequence_set_on_cut_views_equals_the_stacked_copy(tmp_path):
    """Views cut short (as prepare_corpus cuts to the traces) leave gaps; nothing reads them."""
    feats, ys = _corpus()
    cut = {k: n for k, n in zip(feats, (60, 50, 78, 70))}     # r1 and r3 lose frames
    packed = pack(dict(feats))
    views = {k: packed[k][:cut[k]] for k in feats}
    copies = {k: feats[k][:cut[k]].copy() for k in feats}
    targets = {k: ys[k][:cut[k]] for k in feats}
    shared = SequenceSet(views, targets, 25.0)
    stacked = SequenceSet(copies, targets, 25.0)
    assert np.shares_memory(shared.X, packed["r0"]) and not np.shares_memory(stacked.X, feats["r0"])
    assert len(shared) > shared.n_frames == stacked.n_frames == len(stacked)
    assert not shared.masked                                   # gaps are not masked labels
    # no window reaches into a gap: poison the gap rows, the numbers do not move
    gaps = np.setdiff1d(np.arange(len(shared)), shared.rows())
    assert gaps.size == 69 - 50             # r1 cut; r3 is the last, its cut rows are outside X
    shared.X[gaps] = np.nan
    assert data_fingerprint(shared) == data_fingerprint(stacked)
    config = TrainConfig(epochs=2, batch_size=16, seed=1, threads=1, device="cpu")
    b = train(MODEL, config, stacked, stacked, checkpoint_dir=tmp_path, progress=False)
    # the packed set is the same data: it resumes from the stacked set's checkpoints
    a = train(MODEL, config, shared, shared, checkpoint_dir=tmp_path, progress=False)
    assert a.runtime == b.runtime                         # read back, not trained again
    fresh = train(MODEL, config, shared, shared, progress=False)
    assert [h["val_cc"] for h in fresh.history] == [h["val_cc"] for h in b.history]
    assert [h["val_cc"] for h in a.history] == [h["val_cc"] for h in b.history]
    assert np.isfinite(a.history[-1]["loss"])
    from contaffect.models.train import make_model

    net = make_model(MODEL, 5, 1)
    net.load_state_dict(a.states[2])
    pa = shared.split(predict_frames(net, shared, MODEL))
    pb = stacked.split(predict_frames(net, stacked, MODEL))
    assert all(np.array_equal(pa[k], pb[k]) for k in feats)
    assert all(pa[k].shape[0] == cut[k] for k in feats)
