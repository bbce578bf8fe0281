"""Category -> arousal / valence class mappings: shipped data files with sources, and their use."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError
from contaffect.corpus.mapping import apply_mapping
from contaffect.labels.mapping import available_mappings, load_mapping


def corpus(categories, name="c"):
    return Corpus(name, [Recording(f"r{i}", Path(f"r{i}.wav"), f"s{i % 2}",
                                   labels={"emotion": c})
                         for i, c in enumerate(categories)])


def test_every_packaged_mapping_loads_with_a_source_and_ordered_classes():
    names = available_mappings()
    assert {"seed000_table4_valence", "seed003_table1_valence", "emonet_table2_partial",
            "acted_basic_av"} <= set(names)
    for n in names:
        m = load_mapping(n)
        assert m.source, n
        for dim, classes in m.classes.items():
            assert len(classes) >= 2
            used = {row[dim] for row in m.table.values()}
            assert used <= set(classes), (n, dim)


def test_tables_as_printed_in_the_seed_papers():
    s000 = load_mapping("seed000_table4_valence")
    assert [s000.lookup(c, "valence") for c in ("hot anger", "pleasant surprise", "boredom")] \
        == ["negative", "positive", "neutral"]
    assert len(s000.categories()) == 23                      # labels (1) .. (23) of Table 4
    s003 = load_mapping("seed003_table1_valence")
    # per corpus: neutral is positive everywhere in that binary scheme, boredom only in EMO-DB
    assert s003.lookup("neutral", "valence", corpus="emovo") == "positive"
    assert s003.lookup("boredom", "valence", corpus="emodb") == "negative"
    assert s003.lookup("boredom", "valence", corpus="emovo") is None
    emonet = load_mapping("emonet_table2_partial")
    assert emonet.lookup("disgust", "arousal") == "low"
    assert emonet.lookup("scream", "arousal") == "high"
    assert emonet.lookup("happiness", "arousal") is None      # cell missing in the text: not guessed


def test_apply_adds_labels_through_aliases():
    c = corpus(["happy", "sad", "angry", "fearful", "surprised", "neutral", "calm", "disgust"])
    out = apply_mapping(c, load_mapping("acted_basic_av"))
    ar = [r.labels["arousal"] for r in out]
    va = [r.labels["valence"] for r in out]
    assert ar == ["high", "low", "high", "high", "high", "low", "low", "low"]
    assert va == ["positive", "negative", "negative", "negative", "positive", "neutral",
                  "positive", "negative"]
    assert [r.labels["emotion"] for r in out] == [r.labels["emotion"] for r in c]


def test_unmapped_categories_are_named_or_dropped_never_silent():
    c = corpus(["anger", "joy", "joy", "contempt"])
    m = load_mapping("emonet_table2_partial")
    with pytest.raises(ConfigError, match=r"joy \(2\)"):
        apply_mapping(c, m)
    kept = apply_mapping(c, m, unmapped="drop")
    assert [r.labels["emotion"] for r in kept] == ["anger", "contempt"]
    with pytest.raises(ConfigError, match="no 'emotion' label"):
        apply_mapping(Corpus("x", [Recording("a", Path("a.wav"), "s")]), m)


def test_user_mapping_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text("# source: my lab\n# classes.arousal: low, mid, high\n"
                    "category,arousal\nanger,high\nsadness,low\nneutral,mid\n")
    m = load_mapping(good)
    assert m.name == "mine" and m.classes == {"arousal": ["low", "mid", "high"]}
    assert Counter(r.labels["arousal"] for r in apply_mapping(corpus(["anger", "neutral"]), m)) \
        == {"high": 1, "mid": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("# classes.arousal: low, high\ncategory,arousal\nanger,very high\n")
    with pytest.raises(ConfigError, match="not among the declared"):
        load_mapping(bad)
    bad.write_text("category,arousal\nanger,high\n")
    with pytest.raises(ConfigError, match="declares no classes"):
        load_mapping(bad)
    bad.write_text("# classes.arousal: low, high\ncategory,arousal\nanger,high\nAnger,low\n")
    with pytest.raises(ConfigError, match="listed twice"):
        load_mapping(bad)
    with pytest.raises(ConfigError, match="packaged mappings"):
        load_mapping("no_such_mapping")


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["ravdess", "emovo"])
def test_acted_mapping_covers_the_shared_corpora(shared_data, name):
    from contaffect.corpus import load_corpus

    c = load_corpus(shared_data / name)
    out = apply_mapping(c, load_mapping("acted_basic_av"))
    assert len(out) == len(c)
    assert set(Counter(r.labels["arousal"] for r in out)) == {"low", "high"}
    assert set(Counter(r.labels["valence"] for r in out)) == {"negative", "neutral", "positive"}
