"""The [crosstask] config section and per-corpus partitions / mappings: parsing and errors."""

from __future__ import annotations

import tempfile

import json
from pathlib import Path

import pytest

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError, CorpusError
from contaffect.experiment.config import from_dict
from contaffect.corpus.partitions import assign_partitions

# corpus paths must exist at load: a folder that is really there
_EXISTING = Path(tempfile.mkdtemp(prefix="contaffect-test-"))
for _d in ("creativeit", "x"):
    (_EXISTING / _d).mkdir(exist_ok=True)

BASE = {
    "corpora": {"s": {"synthetic": "semaine_like"}, "r": {"synthetic": "recola_like"},
                "u": {"synthetic": "usoms_like"}},
    "crosstask": {"target": "u", "labels": {"valence": ["l", "m", "h"]},
                  "sources": [["s", "r"]]},
}


def patched(**ct):
    data = json.loads(json.dumps(BASE))
    data["crosstask"].update(ct)
    return data


def test_crosstask_alone_is_a_whole_experiment_with_paper_defaults():
    cfg = from_dict(BASE)
    ct = cfg.crosstask
    assert cfg.protocol.triples() == []
    assert ct.functional == "mean" and ct.fit_on == ("train",)
    assert ct.evaluate_on == ("train", "devel") and ct.direction == "increasing"
    assert ct.sources == (("s", "r"),) and ct.labels == {"valence": ["l", "m", "h"]}


@pytest.mark.parametrize("patch,message", [
    ({"target": "x"}, "names corpus 'x', which has no"),
    ({"fit_on": ["train", "test"]}, "never fit on the test"),
    ({"sources": [["s", "s"]]}, "entries must differ"),
    ({"sources": [["s", "u"]]}, "sources must differ"),
    ({"sources": [["s", "q"]]}, "no \\[corpora.q\\]"),
    ({"sources": []}, "crosstask.sources: expected a list of 1 or more"),
    ({"labels": {"valence": ["l"]}}, "crosstask.labels.valence: expected a list of 2 or more"),
    ({"labels": {}}, "crosstask.labels: expected a table of 1 or more"),
    ({"functional": "mode"}, "functional"),
    ({"direction": "up"}, "direction"),
    ({"threshold": 1}, "unknown key 'threshold'"),
])
def test_crosstask_errors(patch, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(patched(**patch))


def test_a_config_without_protocol_or_crosstask_is_refused():
    with pytest.raises(ConfigError, match="needs 'corpora'"):
        from_dict({"corpora": BASE["corpora"]})


def corpus():
    return Corpus("c", [Recording(f"{s}_{i}", Path(f"{s}_{i}.wav"), s)
                        for s in ("01", "02", "03") for i in range(2)])


def test_partitions_inline_and_from_a_file(tmp_path):
    c = assign_partitions(corpus(), {"train": ["01", "02"], "devel": ["03"]})
    assert [r.partition for r in c] == ["train"] * 4 + ["devel"] * 2
    f = tmp_path / "parts.csv"
    f.write_text("speaker,partition\n01,train\n02,devel\n03,test\n")
    c = assign_partitions(corpus(), str(f))
    assert {r.speaker: r.partition for r in c} == {"01": "train", "02": "devel", "03": "test"}
    # a config path is resolved against the config's folder
    cfg = from_dict({**BASE, "corpora": {**BASE["corpora"],
                                         "x": {"path": str(_EXISTING / "x"), "partitions": "parts.csv"}}},
                    base_dir=tmp_path)
    assert cfg.corpora["x"].partitions == str(f)


def test_partition_errors(tmp_path):
    with pytest.raises(ConfigError, match="in partitions 'train' and 'devel'"):
        assign_partitions(corpus(), {"train": ["01", "02"], "devel": ["02", "03"]})
    with pytest.raises(CorpusError, match="no partition for speaker"):
        assign_partitions(corpus(), {"train": ["01", "02"]})
    f = tmp_path / "p.csv"
    f.write_text("who,partition\n01,train\n")
    with pytest.raises(ConfigError, match="'speaker' \\(or 'id'\\) column"):
        assign_partitions(corpus(), str(f))
    with pytest.raises(ConfigError, match="does not exist"):
        assign_partitions(corpus(), str(tmp_path / "none.csv"))


@pytest.mark.parametrize("corpora,message", [
    ({"p": {"pseudo_continuous": {"partition": "train"}}}, "needs a source"),
    ({"p": {"pseudo_continuous": {"source": "zz"}}}, "must be another configured corpus"),
    ({"x": {"path": str(_EXISTING / "x")}, "p": {"pseudo_continuous": {"source": "x"}}}, "needs a mapping"),
    ({"x": {"path": str(_EXISTING / "x"), "mapping": "acted_basic_av"},
      "p": {"pseudo_continuous": {"source": "x", "session": 3}}}, "unknown key"),
    ({"p": {"path": str(_EXISTING / "x"), "pseudo_continuous": {"source": "s"}}}, "exactly one"),
])
def test_pseudo_continuous_config_errors(corpora, message):
    data = json.loads(json.dumps(BASE))
    data["corpora"].update(corpora)
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_pseudo_continuous_config_accepted():
    data = json.loads(json.dumps(BASE))
    data["corpora"]["x"] = {"path": str(_EXISTING / "x"), "mapping": "acted_basic_av"}
    data["corpora"]["p"] = {"pseudo_continuous": {"source": "x", "partition": "train",
                                                  "session_s": 30, "raters": 4}}
    cfg = from_dict(data)
    assert cfg.corpora["p"].pseudo_continuous["session_s"] == 30
