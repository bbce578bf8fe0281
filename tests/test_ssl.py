"""SSL representations from local folders: tiny random models of each family, saved by the test.

Shapes, times and frame rate against the LLD grid; chunked against unchunked;
batched against one by one; store ids and cache hits; the missing-weights
errors; and that nothing touches the network.
"""

from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest

from conftest import make_folder_corpus, voiced_signal

pytest.importorskip("transformers", reason="SSL tests need transformers (pip install "
                                            "'contaffect[ssl]' or '.[test]')")

from contaffect.errors import ConfigError, FeatureError  # noqa: E402
from contaffect.features.frames import align_to_grid  # noqa: E402
from contaffect.features.smile import get_feature_set, make_extractor  # noqa: E402
from contaffect.features.ssl import (chunk_plan, n_frames, resolve_layers,  # noqa: E402
                                     ssl_feature_set)
from contaffect.features.ssl_config import SSLConfig, locate_weights  # noqa: E402
from contaffect.features.ssl_random import save_random_model  # noqa: E402

FAMILIES = ("wav2vec2", "hubert", "wavlm")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssl_models")
    out = {fam: save_random_model(root / fam, fam) for fam in FAMILIES}
    out["layer_norm"] = save_random_model(root / "wav2vec2_ln", "wav2vec2",
                                          feat_extract_norm="layer")
    return out


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    return voiced_signal(seconds, seed=seed)


@pytest.mark.parametrize("family", FAMILIES)
def test_frames_shapes_times_and_rate_match_the_lld_grid(models, family):
    x = _signal(3.3)
    fs = ssl_feature_set(models[family], SSLConfig())
    frames = make_extractor(fs)(x)
    assert fs.hop == pytest.approx(0.02) and frames.rate == pytest.approx(50.0)
    assert len(frames) == n_frames(x.size, (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))
    assert len(frames) == (x.size - 400) // 320 + 1
    np.testing.assert_allclose(frames.times, np.arange(len(frames)) * 0.02)
    assert frames.values.shape == (len(frames), 32) and frames.values.dtype == np.float32
    lld = make_extractor("compare2016_lld")(x)
    a, b = align_to_grid(frames, 25.0), align_to_grid(lld, 25.0)
    assert abs(len(a) - len(b)) <= 1                   # the same label grid, up to its last cell
    np.testing.assert_allclose(a.times[:len(b)], b.times[:len(a)])


def test_chunk_plan_covers_every_sample_with_the_overlap():
    plan = chunk_plan(16000 * 10 + 123, 16000 * 4, 16000, 320)
    assert plan[0][0] == 0 and plan[-1][1] == 16000 * 10 + 123
    for (s0, e0), (s1, _) in zip(plan, plan[1:]):
        assert s1 % 320 == 0 and e0 - s1 == 16000 // 320 * 320    # overlap, on the hop grid
    assert chunk_plan(16000, 16000 * 4, 16000, 320) == [(0, 16000)]


@pytest.mark.parametrize("family", FAMILIES)
def test_chunked_equals_unchunked_within_tolerance(models, family):
    x = _signal(11.0, seed=3)
    short = make_extractor(ssl_feature_set(models[family], SSLConfig(chunk_s=4.0,
                                                                     overlap_s=1.0)))(x)
    whole = make_extractor(ssl_feature_set(models[family], SSLConfig(chunk_s=60.0)))(x)
    assert short.values.shape == whole.values.shape
    r = np.corrcoef(short.values.ravel(), whole.values.ravel())[0, 1]
    rel = np.abs(short.values - whole.values).mean() / np.abs(whole.values).mean()
    assert r > 0.999 and rel < 0.05, (r, rel)
    # the first chunk's own frames, far from its end, see almost the whole context
    np.testing.assert_allclose(short.values[:50], whole.values[:50], atol=0.2)


def test_batched_equals_one_by_one(models):
    sigs = [_signal(s, seed=k) for k, s in enumerate((1.0, 2.3, 1.7, 2.3))]
    for key in ("hubert", "layer_norm"):      # group norm: equal lengths only; layer norm: padded
        ex = make_extractor(ssl_feature_set(models[key], SSLConfig(batch_size=4)))
        together = ex.extract_batch(sigs)
        for sig, fr in zip(sigs, together):
            np.testing.assert_allclose(fr.values, ex(sig).values, atol=2e-4, rtol=1e-4)
    ex = make_extractor(ssl_feature_set(models["hubert"], SSLConfig(batch_size=4)))
    assert [len(b) for b in ex._batches([100, 200, 100, 200])] == [2, 2]
    ln = make_extractor(ssl_feature_set(models["layer_norm"], SSLConfig(batch_size=4)))
    assert [len(b) for b in ln._batches([100, 200, 100, 200])] == [4]


def test_layers_combine_mean_weighted_and_stack(models):
    x = _signal(1.5)
    stack = make_extractor(ssl_feature_set(models["hubert"], SSLConfig(combine="stack")))(x)
    assert stack.n_features == 3 * 32 and stack.names[32] == "hubert_l1_0"
    blocks = stack.values.reshape(len(stack), 3, 32)
    mean = make_extractor(ssl_feature_set(models["hubert"], SSLConfig()))(x)
    np.testing.assert_allclose(mean.values, blocks.mean(1), atol=1e-5)
    w = make_extractor(ssl_feature_set(models["hubert"], SSLConfig(
        layers=(0, -1), combine="weighted", weights=(1.0, 3.0))))(x)
    np.testing.assert_allclose(w.values, 0.25 * blocks[:, 0] + 0.75 * blocks[:, 2], atol=1e-5)
    last = make_extractor(ssl_feature_set(models["hubert"], SSLConfig(layers=(-1,))))(x)
    np.testing.assert_allclose(last.values, blocks[:, 2], atol=1e-5)
    assert resolve_layers((-1, 0), 3) == (2, 0)
    with pytest.raises(ConfigError, match="out of range"):
        resolve_layers((5,), 3)


def test_store_ids_follow_weights_and_options_not_the_folder(models, tmp_path):
    a = ssl_feature_set(models["hubert"])
    assert a.id == ssl_feature_set(models["hubert"], SSLConfig(device="cpu", batch_size=2)).id
    assert a.id != ssl_feature_set(models["hubert"], SSLConfig(layers=(1,))).id
    assert a.id != ssl_feature_set(models["hubert"], SSLConfig(chunk_s=10.0)).id
    moved = shutil.copytree(models["hubert"], tmp_path / "elsewhere")
    assert ssl_feature_set(moved).id == a.id
    other = save_random_model(tmp_path / "reseeded", "hubert", seed=1)
    assert ssl_feature_set(other).id != a.id


def test_corpus_extraction_hits_the_cache_and_respects_the_weights(models, tmp_path):
    from contaffect.corpus import load_corpus
    from contaffect.features.extract import extract_corpus, load_corpus_features

    corpus = load_corpus(make_folder_corpus(tmp_path / "c", n_speakers=2, per_speaker=3,
                                            seconds=1.2))
    fs = ssl_feature_set(models["wavlm"], SSLConfig(batch_size=4))
    first = extract_corpus(corpus, tmp_path / "store", fs, workers=2, progress=False)
    assert len(first.extracted) == 6 and not first.cached
    again = extract_corpus(corpus, tmp_path / "store", fs, workers=2, progress=False)
    assert not again.extracted and len(again.cached) == 6
    frames = load_corpus_features(corpus, tmp_path / "store", fs)
    ex = make_extractor(fs)
    from contaffect.features.audio import read_audio

    rec = next(iter(corpus))
    np.testing.assert_allclose(frames[rec.id].values, ex(read_audio(rec.audio)[0]).values,
                               atol=2e-4)
    layered = extract_corpus(corpus, tmp_path / "store", ssl_feature_set(
        models["wavlm"], SSLConfig(layers=(2,))), progress=False)
    assert len(layered.extracted) == 6                   # another layer: another entry


def test_missing_or_empty_folders_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as e1:
        locate_weights(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json") as e2:
        locate_weights(tmp_path / "empty")
    (tmp_path / "empty" / "config.json").write_text(json.dumps({"model_type": "hubert"}))
    with pytest.raises(ConfigError, match="holds no weights") as e3:
        locate_weights(tmp_path / "empty")
    for e in (e1, e2, e3):
        assert "\n" not in str(e.value) and "model.safetensors" in str(e.value)
        assert "never downloads" in str(e.value)
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "bert" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not a speech SSL encoder"):
        locate_weights(tmp_path / "bert")


def test_hugging_face_cache_folders_resolve_to_their_snapshot(models, tmp_path):
    cache = tmp_path / "models--org--tiny-hubert"
    snap = cache / "snapshots" / "0123abc"
    shutil.copytree(models["hubert"], snap)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("0123abc")
    assert locate_weights(cache)[0] == snap
    assert ssl_feature_set(cache).id == ssl_feature_set(models["hubert"]).id


def test_a_checkpoint_lacking_encoder_weights_is_refused(models, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    bad = shutil.copytree(models["hubert"], tmp_path / "partial")
    state = load_file(str(bad / "model.safetensors"))
    state = {k: v for k, v in state.items() if "layers.1." not in k}
    save_file(state, str(bad / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(FeatureError, match="lacks .* of the encoder's weights"):
        make_extractor(ssl_feature_set(bad))
    assert torch.is_tensor(next(iter(state.values())))


def test_nothing_touches_the_network(models, monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    fs = ssl_feature_set(models["wav2vec2"], SSLConfig(layers=(1,)))
    frames = make_extractor(fs)(_signal(1.0))
    assert len(frames) > 0 and calls == []


def test_signals_shorter_than_the_receptive_field_are_refused(models):
    ex = make_extractor(ssl_feature_set(models["hubert"]))
    with pytest.raises(FeatureError, match="receptive field"):
        ex(np.zeros(300, dtype=np.float32))


def test_get_feature_set_and_config_validation(models, tmp_path):
    from contaffect.experiment.config import from_dict

    fs = get_feature_set(f"ssl:{models['hubert']}")
    assert fs.name == "ssl_hubert" and fs.n_features == 32
    base = {"corpora": {"a": {"synthetic": "recola_like"}, "b": {"synthetic": "semaine_like"},
                        "c": {"synthetic": "creativeit_like"}},
            "protocol": {"corpora": ["a", "b", "c"]}}
    cfg = from_dict({**base, "features": {"set": f"compare2016_lld+ssl:{models['hubert']}"}})
    assert cfg.features.set.endswith(str(models["hubert"]))
    cfg = from_dict({**base, "ssl": {"models": {"tiny": str(models["hubert"])}},
                     "features": {"set": "ssl:tiny"}})
    assert cfg.ssl.folder("tiny") == models["hubert"]
    rel = from_dict({**base, "features": {"set": "ssl:./hubert"}}, base_dir=models["hubert"].parent)
    assert rel.features.set == f"ssl:{models['hubert']}"
    bad = [
        ({"features": {"set": "ssl:nomodel"}}, "no such model"),
        ({"features": {"set": f"ssl:{tmp_path / 'absent'}"}}, "does not exist"),
        ({"features": {"set": "compare2016_lld+mfcc"}}, "unknown feature set 'mfcc'"),
        ({"ssl": {"overlap_s": 15.0}}, "less than half"),
        ({"ssl": {"combine": "weighted"}}, "needs weights"),
        ({"ssl": {"weights": [1.0]}}, "only with combine"),
        ({"ssl": {"models": {"t": str(models["hubert"])}},
          "utterance": {"target": "a", "label": "valence", "classes": ["l", "h"],
                        "representations": [f"ssl_mean:{models['hubert']}", "egemaps"]}},
         "must be a key of"),
    ]
    for extra, msg in bad:
        with pytest.raises(ConfigError, match=msg) as exc:
            from_dict({**base, **extra})
        assert "\n" not in str(exc.value)


def test_chunks_hand_over_mid_overlap_and_the_last_chunk_is_full_length(models):
    n = 16000 * 20 + 5000                          # just over one 20 s chunk
    plan = chunk_plan(n, 16000 * 20, 16000 * 2, 320)
    assert len(plan) == 2 and plan[-1][1] == n and plan[-1][1] - plan[-1][0] >= 16000 * 20
    for n in (16000 * 4 + 1, 16000 * 4 + 319, 16000 * 4 + 320, 16000 * 9 + 7777):
        x = _signal(n / 16000, seed=1)[:n]
        for key in ("hubert", "layer_norm"):
            ex = make_extractor(ssl_feature_set(models[key], SSLConfig(chunk_s=4.0,
                                                                       overlap_s=1.0)))
            fr = ex(x)
            assert len(fr) == (n - 400) // 320 + 1 and np.isfinite(fr.values).all()


def test_store_ids_ignore_what_does_not_change_the_numbers(models):
    one = ssl_feature_set(models["hubert"], SSLConfig(layers=(0, 2), combine="weighted",
                                                      weights=(1.0, 1.0)))
    same = ssl_feature_set(models["hubert"], SSLConfig(layers=(2, 0), combine="weighted",
                                                       weights=(0.5, 0.5)))
    assert one.id == same.id
    assert ssl_feature_set(models["hubert"], SSLConfig(layers=(2, 0))).id == \
        ssl_feature_set(models["hubert"], SSLConfig(layers=(0, 2))).id
    assert ssl_feature_set(models["hubert"], SSLConfig(layers=(2, 0), combine="stack")).id != \
        ssl_feature_set(models["hubert"], SSLConfig(layers=(0, 2), combine="stack")).id
    assert ssl_feature_set(models["hubert"], SSLConfig(chunk_s=20.0)).id == \
        ssl_feature_set(models["hubert"], SSLConfig(chunk_s=20.01)).id


def test_layers_and_weights_are_checked_at_config_load(models, tmp_path):
    from contaffect.experiment.config import from_dict

    base = {"corpora": {"a": {"synthetic": "recola_like"}, "b": {"synthetic": "semaine_like"},
                        "c": {"synthetic": "creativeit_like"}},
            "protocol": {"corpora": ["a", "b", "c"]},
            "ssl": {"models": {"t": str(models["hubert"])}}, "features": {"set": "ssl:t"}}
    for extra, msg in (({"layers": [7]}, "out of range"),
                       ({"combine": "weighted", "weights": [1.0, 1.0]}, "2 weights for 3")):
        with pytest.raises(ConfigError, match=msg):
            from_dict({**base, "ssl": {**base["ssl"], **extra}})
    (tmp_path / "t").mkdir()                       # a folder named like a key is not a path
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        cfg = from_dict(base)
        assert cfg.ssl.folder("t") == models["hubert"]
    finally:
        os.chdir(cwd)


def test_a_truncated_checkpoint_is_a_one_line_error(models, tmp_path):
    bad = shutil.copytree(models["hubert"], tmp_path / "truncated")
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="cannot load the model") as exc:
        make_extractor(ssl_feature_set(bad))
    assert "\n" not in str(exc.value)


def test_long_files_get_tasks_of_their_own(models, tmp_path):
    from contaffect.corpus import load_corpus
    from contaffect.features.extract import _groups

    corpus = load_corpus(make_folder_corpus(tmp_path / "c", n_speakers=2, per_speaker=4,
                                            seconds=1.0))
    ex = make_extractor(ssl_feature_set(models["hubert"], SSLConfig(batch_size=3)))
    assert [len(g) for g in _groups(list(corpus), ex)] == [3, 3, 2]
    ex.seconds_per_call = 2.5                      # a budget of two 1 s files per task
    assert [len(g) for g in _groups(list(corpus), ex)] == [2, 2, 2, 2]


def test_random_models_are_seeded(tmp_path):
    a = save_random_model(tmp_path / "a", "wavlm", seed=5)
    b = save_random_model(tmp_path / "b", "wavlm", seed=5)
    c = save_random_model(tmp_path / "c", "wavlm", seed=6)
    assert ssl_feature_set(a).id == ssl_feature_set(b).id != ssl_feature_set(c).id
    x = _signal(1.0)
    np.testing.assert_array_equal(make_extractor(ssl_feature_set(a))(x).values,
                                  make_extractor(ssl_feature_set(b))(x).values)
