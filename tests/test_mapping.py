"""Category -> arousal / valence class mappings: shipped data files with sources, and their use."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contaffect.corpus.mapping import apply_mapping, mapping_summary
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError
from contaffect.labels.mapping import available_mappings, load_mapping


def corpus(categories, name="c"):
    return Corpus(name, [Recording(f"r{i}", Path(f"r{i}.wav"), f"s{i % 2}",
                                   labels={"emotion": c})
                         for i, c in enumerate(categories)])


def test_every_packaged_mapping_loads_with_a_source_and_ordered_classes():
    names = available_mappings()
    assert {"seed000_table4_valence", "seed003_table1_valence", "emonet_table2",
            "acted_basic_av", "seed004_four_class", "seed003_binary_valence"} <= set(names)
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
    emonet = load_mapping("emonet_table2")
    cells = {("low", "negative"): ["contempt", "guilt", "worry", "sadness"],
             ("low", "neutral"): ["boredom", "neutral", "sneakiness"],
             ("low", "positive"): ["admiration", "relief", "tenderness"],
             ("high", "negative"): ["aggressiveness", "high-stress", "scream", "fear"],
             # the two cells that an earlier reading of the text had missed
             ("high", "neutral"): ["emphatic", "interest", "medium-stress", "surprise"],
             ("high", "positive"): ["amusement", "elation", "happiness", "joy", "positive"]}
    for (a, v), cats in cells.items():
        for c in cats:
            assert (emonet.lookup(c, "arousal"), emonet.lookup(c, "valence")) == (a, v), c
    assert len(emonet.categories()) == 47                     # 13 + 6 + 5 + 8 + 6 + 9
    assert emonet.lookup("calm", "arousal") is None           # not in the table: not guessed


def test_acted_basic_av_follows_the_complete_emonet_table():
    import pandas as pd

    from contaffect.labels.mapping import _packaged

    t = pd.read_csv(_packaged("acted_basic_av"), comment="#").set_index("category")
    emonet = load_mapping("emonet_table2")
    for cat in ("happiness", "joy", "surprise", "anger", "sadness", "neutral"):
        assert t.loc[cat, "arousal_source"] == "emonet_table2"
        assert t.loc[cat, "arousal"] == emonet.lookup(cat, "arousal")
    assert t.loc["calm", "arousal_source"] == "russell1980"
    # valence stays seed 000's where EmoNet disagrees (surprise: neutral in EmoNet)
    assert t.loc["surprise", "valence"] == load_mapping("seed000_table4_valence").lookup(
        "surprise", "valence") == "positive"


def test_seed004_and_seed003_binary_cover_the_acted_corpora():
    four = load_mapping("seed004_four_class")
    assert [four.lookup(c, "emotion4") for c in ("happy", "angry", "sad", "neutral", "joy",
                                                   "happiness", "anger", "sadness")] == \
        ["happiness", "anger", "sadness", "neutral", "happiness", "happiness", "anger", "sadness"]
    assert not four.listed("fearful") and not four.listed("boredom")
    binary = load_mapping("seed003_binary_valence")
    per_corpus = load_mapping("seed003_table1_valence")
    for corp in ("emodb", "emovo", "savee", "iemocap"):        # agrees with Table 1 as printed
        for cat in per_corpus.categories(corp):
            assert binary.lookup(cat, "valence") == per_corpus.lookup(cat, "valence", corp), cat
    assert [binary.lookup(c, "valence") for c in ("fearful", "surprised", "calm", "angry")] == \
        ["negative", "positive", "positive", "negative"]


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
    c = corpus(["anger", "calm", "calm", "contempt"])
    m = load_mapping("emonet_table2")
    with pytest.raises(ConfigError, match=r"does not list .*calm \(2\)"):
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


def test_per_dimension_mapping_keeps_the_labels_a_category_has(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_text("# source: test\n# classes.arousal: low, high\n"
                    "# classes.valence: negative, positive\n"
                    "category,arousal,valence\nanger,high,negative\nneutral,low,\n"
                    "happiness,high,positive\nfear,,\n")
    m = load_mapping(path)
    assert m.listed("neutral") and m.listed("happy") and not m.listed("boredom")
    c = corpus(["anger", "neutral", "neutral", "happy", "fear", "boredom"])
    with pytest.raises(ConfigError, match=r"does not list .*boredom \(1\)"):
        apply_mapping(c, m)
    out = apply_mapping(c, m, unmapped="drop")
    by = {r.id: r.labels for r in out}
    assert by["r1"]["arousal"] == "low" and "valence" not in by["r1"]   # arousal task only
    assert by["r0"] == {"emotion": "anger", "arousal": "high", "valence": "negative"}
    assert "r4" not in by and "r5" not in by            # fear: no class at all; boredom: unlisted
    only_valence = apply_mapping(c, m, dimensions=["valence"], unmapped="drop")
    assert [r.id for r in only_valence] == ["r0", "r3"]
    summary = mapping_summary(c, m)
    assert summary["n"].sum() == len(c)
    reason = dict(zip(summary["category"], summary["reason"]))
    assert reason["anger"] == "" and "no valence class" in reason["neutral"]
    assert "not listed" in reason["boredom"] and "left out" in reason["fear"]
