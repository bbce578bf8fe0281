"""Configs are validated once, at load, before any work: every key, type, range and reference.

Each bad config below is refused by ``contaffect run`` with exit 2 and one
line that names the key path and what was expected, and nothing is written:
no workdir, no feature store, no checkpoint.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contaffect.cli import main
from contaffect.errors import ConfigError
from contaffect.experiment.config import (
    SECTIONS,
    apply_overrides,
    config_reference,
    demo_data,
    from_dict,
    load_config,
)

BASE = """\
name = "base"
seeds = [0]
workdir = "{workdir}"

[corpora.a]
synthetic = "recola_like"
scale = 0.1
lag_s = {{ arousal = 2.0, valence = 2.0 }}

[corpora.b]
synthetic = "semaine_like"
scale = 0.1

[corpora.c]
synthetic = "creativeit_like"
scale = 0.1

[features]
set = "compare2016_lld"
normalisation = "speaker"

[labels]
fusion = "mean"

[model]
units = [8]

[training]
epochs = 1
lr = 0.001

[protocol]
corpora = ["a", "b", "c"]
dimensions = ["arousal", "valence"]
"""

# (id, old line or "" to append, new text, a fragment the one-line message must contain)
BAD = [
    ("typo-nested-lag", "lag_s = { arousal = 2.0, valence = 2.0 }",
     "lag_s = { arousal = 2.0, valnce = 2.0 }", "did you mean 'valence'"),
    ("lag-missing-dim", "lag_s = { arousal = 2.0, valence = 2.0 }", "lag_s = { arousal = 2.0 }",
     "corpora.a.lag_s: has no lag for ['valence']"),
    ("lag-negative", "lag_s = { arousal = 2.0, valence = 2.0 }", "lag_s = -1.0", "corpora.a.lag_s"),
    ("epochs-str", "epochs = 1", 'epochs = "2"', "training.epochs: expected an integer"),
    ("epochs-float", "epochs = 1", "epochs = 1.5", "training.epochs: expected an integer"),
    ("epochs-zero", "epochs = 1", "epochs = 0", "training.epochs"),
    ("epochs-bool", "epochs = 1", "epochs = true", "training.epochs"),
    ("lr-negative", "lr = 0.001", "lr = -0.001", "training.lr: expected a finite number > 0"),
    ("lr-str", "lr = 0.001", 'lr = "fast"', "training.lr"),
    ("lr-nan", "lr = 0.001", "lr = nan", "training.lr"),
    ("lr-inf", "lr = 0.001", "lr = inf", "training.lr"),
    ("batch-zero", "lr = 0.001", "lr = 0.001\nbatch_size = 0", "training.batch_size"),
    ("units-str", "units = [8]", 'units = "80,60"', "model.units: expected a list"),
    ("units-empty", "units = [8]", "units = []", "model.units"),
    ("units-zero", "units = [8]", "units = [8, 0]", "model.units[1]"),
    ("dropout-big", "units = [8]", "units = [8]\ndropout = 1.5", "model.dropout"),
    ("steps-float", "units = [8]", "units = [8]\nn_steps = 16.0", "model.n_steps"),
    ("device-gpu", "lr = 0.001", 'lr = 0.001\ndevice = "gpu"', "training.device: unknown value 'gpu'"),
    ("noise-negative", "lr = 0.001", "lr = 0.001\ninput_noise = -1", "training.input_noise"),
    ("loss-unknown", "lr = 0.001", 'lr = 0.001\nloss = "mae"', "training.loss"),
    ("seeds-negative", "seeds = [0]", "seeds = [-1]", "seeds[0]"),
    ("seeds-empty", "seeds = [0]", "seeds = []", "seeds"),
    ("seeds-duplicate", "seeds = [0]", "seeds = [1, 1]", "seeds: entries must differ"),
    ("dims-str", 'dimensions = ["arousal", "valence"]', 'dimensions = "arousal"',
     "protocol.dimensions: expected a list"),
    ("dims-typo", 'dimensions = ["arousal", "valence"]', 'dimensions = ["arousal", "valance"]',
     "did you mean 'valence'"),
    ("feature-set", 'set = "compare2016_lld"', 'set = "compare2016"', "features.set"),
    ("feature-set-functionals", 'set = "compare2016_lld"', 'set = "compare2016_func"',
     "features.set"),
    ("normalisation", 'normalisation = "speaker"', 'normalisation = "speakr"',
     "did you mean 'speaker'"),
    ("rate-zero", 'normalisation = "speaker"', 'normalisation = "speaker"\nrate = 0', "features.rate"),
    ("workers-zero", 'normalisation = "speaker"', 'normalisation = "speaker"\nworkers = 0',
     "features.workers"),
    ("label-fusion", 'fusion = "mean"', 'fusion = "median"', "labels.fusion"),
    ("label-resample", 'fusion = "mean"', 'fusion = "mean"\nresample = "cubic"', "labels.resample"),
    ("label-lag-mode", 'fusion = "mean"', 'fusion = "mean"\nlag_mode = "wrap"', "labels.lag_mode"),
    ("label-rate-not-a-key", 'fusion = "mean"', 'fusion = "mean"\nrate = 25', "labels.rate: unknown key"),
    ("unknown-top", 'name = "base"', 'name = "base"\nseed = 3', "did you mean 'seeds'"),
    ("unknown-section", "[labels]", "[label]", "unknown key 'label'"),
    ("unknown-corpus-key", 'synthetic = "recola_like"', 'synthetic = "recola_like"\nscal = 0.2',
     "did you mean 'scale'"),
    ("preset-typo", 'synthetic = "recola_like"', 'synthetic = "recola"', "corpora.a.synthetic"),
    ("scale-nan", "scale = 0.1\nlag_s", "scale = nan\nlag_s", "corpora.a.scale"),
    ("scale-negative", "scale = 0.1\nlag_s", "scale = -2\nlag_s", "corpora.a.scale"),
    ("corpus-seed-negative", "scale = 0.1\nlag_s", "scale = 0.1\nseed = -5\nlag_s", "corpora.a.seed"),
    ("on-mismatch", "scale = 0.1\nlag_s", 'scale = 0.1\non_mismatch = "cut"\nlag_s',
     "corpora.a.on_mismatch"),
    ("on-nan", "scale = 0.1\nlag_s", 'scale = 0.1\non_nan = "zero"\nlag_s', "corpora.a.on_nan"),
    ("on-ragged", "scale = 0.1\nlag_s", 'scale = 0.1\non_ragged = "pad"\nlag_s',
     "corpora.a.on_ragged"),
    ("two-sources", 'synthetic = "recola_like"', 'synthetic = "recola_like"\npath = "."',
     "exactly one of"),
    ("missing-path", 'synthetic = "recola_like"', 'path = "does/not/exist"', "does not exist"),
    ("protocol-unknown-corpus", 'corpora = ["a", "b", "c"]', 'corpora = ["a", "b", "d"]',
     "has no [corpora.d] section"),
    ("protocol-two-corpora", 'corpora = ["a", "b", "c"]', 'corpora = ["a", "b"]', "three or more"),
    ("protocol-type", 'corpora = ["a", "b", "c"]', 'corpora = ["a", "b", "c"]\ntype = "loco"',
     "protocol.type"),
    ("assignment-repeat", 'corpora = ["a", "b", "c"]', 'assignments = [["a", "a", "c"]]',
     "entries must differ"),
    ("same-audio-twice", "[corpora.c]\nsynthetic = \"creativeit_like\"\nscale = 0.1",
     "[corpora.c]\nsynthetic = \"recola_like\"\nscale = 0.1", "read the same audio"),
    ("ablation-type", "", '[[ablations]]\nname = "x"\n"training.epochs" = "3"',
     "ablations[0] (x): training.epochs"),
    ("ablation-typo", "", '[[ablations]]\nname = "x"\n"features.normalisaton" = "none"',
     "did you mean 'normalisation'"),
    ("ablation-section", "", '[[ablations]]\nname = "x"\n"feature.normalisation" = "none"',
     "did you mean 'features'"),
    ("ablation-no-name", "", '[[ablations]]\n"features.normalisation" = "none"', "name"),
    ("crosstask-fit-test", "",
     '[crosstask]\ntarget = "a"\nlabels = { valence = ["l", "h"] }\nsources = [["b", "c"]]\n'
     'fit_on = ["test"]', "never fit on the test partition"),
    ("crosstask-source-is-target", "",
     '[crosstask]\ntarget = "a"\nlabels = { valence = ["l", "h"] }\nsources = [["a", "c"]]',
     "sources must differ"),
    ("crosstask-functional", "",
     '[crosstask]\ntarget = "a"\nlabels = { valence = ["l", "h"] }\nsources = [["b", "c"]]\n'
     'functional = "average"', "crosstask.functional"),
    ("crosstask-one-class", "",
     '[crosstask]\ntarget = "a"\nlabels = { valence = ["l"] }\nsources = [["b", "c"]]',
     "crosstask.labels.valence"),
    ("utterance-classifier", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\nclassifiers = ["kelmm"]',
     "did you mean 'kelm'"),
    ("utterance-representation", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\nrepresentations = ["bow"]',
     "utterance.representations[0]"),
    ("utterance-grid-param", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\nclassifiers = ["kelm"]\n'
     'grids = { kelm = { c = [1.0] } }', "did you mean 'C'"),
    ("utterance-boaw-key", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n'
     'boaw = { codebook = 100 }', "did you mean 'codebook_size'"),
    ("utterance-boaw-type", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n'
     'boaw = { codebook_size = "big" }', "utterance.boaw.codebook_size"),
    ("fusion-method", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n[fusion]\n'
     'method = "mean"', "fusion.method"),
    ("fusion-component", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n[fusion]\n'
     'components = ["best:0"]', "fusion.components[0]"),
    ("fusion-one-component", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n[fusion]\n'
     'components = ["best:1"]', "two or more components"),
    ("fusion-lstm-unknown-source", "",
     '[crosstask]\ntarget = "a"\nlabels = { v = ["l", "h"] }\nsources = [["b", "c"]]\n'
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\n[fusion]\n'
     'components = ["best:2", "lstm:c/valence"]', "is not a [crosstask] source"),
    ("utterance-grid-value", "",
     '[utterance]\ntarget = "a"\nlabel = "v"\nclasses = ["l", "h"]\nclassifiers = ["kpls"]\n'
     'grids = { kpls = { n_components = [0, 4] } }', "grids.kpls.n_components[0]"),
    ("utterance-transfer-same-audio", "",
     '[corpora.a2]\nsynthetic = "recola_like"\nscale = 0.1\n[utterance]\ntarget = "a"\n'
     'label = "v"\nclasses = ["l", "h"]\ntransfer_to = ["a2"]', "reads the target's own audio"),
    ("ablation-named-main", "", '[[ablations]]\nname = "main"\n"training.epochs" = 2',
     "'main' names the main configuration"),
    ("ablation-names-twice", "", '[[ablations]]\nname = "x"\n"training.epochs" = 2\n'
     '[[ablations]]\nname = "x"\n"training.epochs" = 3', "'x' is used twice"),
    ("scale-with-path", 'synthetic = "recola_like"', 'path = "."', "scale would be ignored"),
    ("pseudo-session-type", "",
     '[corpora.p]\npseudo_continuous = { source = "a", session_s = "60" }',
     "corpora.p.pseudo_continuous.session_s"),
    ("pseudo-unknown-option", "",
     '[corpora.p]\npseudo_continuous = { source = "a", sesion_s = 60 }', "did you mean 'session_s'"),
    # [multicorpus] (issue 12): bad input is refused at load, before any extraction
    ("mc-fraction-above-one", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nprotocols = ["target_fraction"]\nfractions = [0.5, 1.5]',
     "multicorpus.fractions[1]"),
    ("mc-fraction-negative", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nfractions = [-0.1]', "multicorpus.fractions[0]"),
    ("mc-corpus-twice", "", '[multicorpus]\ncorpora = ["a", "a"]\nlabel = "x"\nclasses = ["p", "q"]',
     "entries must differ"),
    ("mc-same-audio", "", '[corpora.d]\nsynthetic = "recola_like"\nscale = 0.1\n'
                          '[multicorpus]\ncorpora = ["a", "d"]\nlabel = "x"\nclasses = ["p", "q"]',
     "read the same audio; list each corpus once"),
    ("mc-protocol-typo", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nprotocols = ["matchd"]', "did you mean 'matched'"),
    ("mc-learnt-representation", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nrepresentations = ["boaw"]',
     "multicorpus.representations[0]"),
    ("mc-one-corpus", "", '[multicorpus]\ncorpora = ["a"]\nlabel = "x"\nclasses = ["p", "q"]',
     "multicorpus.corpora"),
    ("mc-unknown-corpus", "", '[multicorpus]\ncorpora = ["a", "e"]\nlabel = "x"\nclasses = ["p", "q"]',
     "has no [corpora.e] section"),
    ("mc-no-classes", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "arousal"',
     "no corpus maps 'arousal'"),
    ("mc-one-class", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p"]',
     "two or more classes"),
    ("mc-fraction-target", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nfraction_targets = ["c"]', "fraction_targets"),
    ("mc-weights-upsample", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nbalance = "weights"\nupsample = true', "do not combine"),
    ("mc-selection-typo", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nselection = ["in-domain"]', "multicorpus.selection[0]"),
    ("mc-folds-one", "", '[multicorpus]\ncorpora = ["a", "b"]\nlabel = "x"\nclasses = ["p", "q"]\nfolds = 1', "multicorpus"),
    ("corpus-dimensions-no-mapping", "scale = 0.1\nlag_s", 'scale = 0.1\ndimensions = ["arousal"]\nlag_s',
     "give 'mapping' too"),

]


def _write(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    workdir = tmp_path / "work"
    text = BASE.format(workdir=workdir.as_posix())
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    else:
        text += "\n" + new + "\n"
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path, workdir


def test_base_config_is_valid(tmp_path):
    path, _ = _write(tmp_path, "", "")
    cfg = load_config(path)
    assert cfg.protocol.triples()[0] == ("a", "b", "c")
    assert cfg.corpora["a"].lag_s == {"arousal": 2.0, "valence": 2.0}


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_config_refused_at_load(case, tmp_path, capsys):
    _, old, new, fragment = case
    path, workdir = _write(tmp_path, old, new)
    code = main(["-q", "run", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and err.startswith("contaffect: error: "), err
    assert str(path) in err, err                      # names the file
    assert fragment in err, err
    assert not workdir.exists()                      # nothing written: no store, no checkpoint


def test_at_least_forty_bad_configs():
    assert len(BAD) >= 40


def test_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "r\xe9sum\xe9"\n'.encode("latin-1"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not UTF-8" in err and "\n" not in err


def test_invalid_toml_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("name = \n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "invalid TOML" in err and "\n" not in err


def test_loading_a_config_imports_no_torch(tmp_path):
    path, _ = _write(tmp_path, "", "")
    code = ("import sys; from contaffect.experiment.config import load_config; "
            f"load_config({str(path)!r}); "
            "bad = [m for m in ('torch', 'opensmile', 'h5py') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_imports_none_of_the_heavy_libraries():
    """`contaffect --help` reads every registry (choices in the help text) without
    importing scikit-learn, pandas, scipy, torch, openSMILE or h5py (issue 16: --help
    took 3.9 s when the classifier registry imported scikit-learn)."""
    code = ("import sys; from contaffect.cli import build_parser; p = build_parser(); "
            "p.format_help(); [a.format_help() for a in p._subparsers._group_actions[0]"
            ".choices.values()]\n"
            "bad = [m for m in ('sklearn', 'pandas', 'scipy', 'torch', 'opensmile', 'h5py') "
            "if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_lag_typo_no_longer_changes_results_silently():
    data = demo_data()
    data["corpora"]["recola_like"]["lag_s"] = {"arousal": 2.0, "valnce": 2.0}
    with pytest.raises(ConfigError, match="did you mean 'valence'"):
        from_dict(data)


def test_one_default_for_on_mismatch_everywhere():
    """The CLI leaves unset flags to the declared default: TOML and CLI agree."""
    from contaffect.cli import _corpus_spec, build_parser
    from contaffect.experiment.config import CorpusSpec

    args = build_parser().parse_args(["cross-corpus", "--train", "a", "--val", "b",
                                      "--test", "c"])
    assert args.on_mismatch is None
    _, spec = _corpus_spec("recola_like", args)
    assert "on_mismatch" not in spec
    data = demo_data()
    cfg = from_dict(data)
    assert cfg.corpora["recola_like"].on_mismatch == CorpusSpec().on_mismatch


def test_repairs_reach_the_loader():
    data = demo_data()
    data["corpora"]["recola_like"].update(on_nan="interpolate", on_ragged="truncate")
    cfg = from_dict(data)
    assert cfg.corpora["recola_like"].loader_options() == {"on_nan": "interpolate",
                                                           "on_ragged": "truncate"}
    assert cfg.corpora["creativeit_like"].loader_options() == {}


def test_ablation_overrides_are_validated_and_applied():
    cfg = from_dict({**demo_data(), "ablations": [
        {"name": "raw", "features": {"normalisation": "none"}},
        {"name": "two seeds", "seeds": [3, 4], "training": {"epochs": 2}}]})
    from contaffect.experiment.config import variants

    names = [n for n, _ in variants(cfg)]
    assert names == ["main", "raw", "two seeds"]
    v = dict(variants(cfg))
    assert v["raw"].features.normalisation == "none"
    assert v["two seeds"].seeds == (3, 4) and v["two seeds"].training.epochs == 2
    assert v["main"].features.normalisation == "speaker"
    with pytest.raises(ConfigError, match="training.epochs"):
        apply_overrides(cfg, {"training.epochs": 0})


def test_cli_flags_are_validated_like_configs(tmp_path, capsys):
    code = main(["-q", "cross-corpus", "--train", "recola_like", "--val", "semaine_like",
                 "--test", "creativeit_like", "--epochs", "0", "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "training.epochs" in err and "--epochs" in err and "\n" not in err
    assert not (tmp_path / "w").exists()
    assert main(["synth", "recola_like", "--out", str(tmp_path / "s"), "--seed", "-5"]) == 2
    assert "--seed" in capsys.readouterr().err
    assert main(["synth", "recola_like", "--out", str(tmp_path / "s"), "--scale", "nan"]) == 2
    assert "--scale" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert main(["cross-corpus", "--train", "x", "--epochs", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("contaffect: error:")


def test_every_option_is_in_the_readme_reference():
    """The README's config reference is generated from the typed sections."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    begin, end = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
    assert begin in readme and end in readme
    committed = readme.split(begin)[1].split(end)[0].strip()
    assert committed == config_reference().strip(), (
        "README config reference is stale: regenerate it with "
        "`python -m contaffect.experiment.config README.md`")
    for _, cls in SECTIONS:
        from contaffect.options import config_keys

        for key in config_keys(cls):
            assert f"| `{key}` |" in committed


def test_cross_task_names_a_symlinked_source_like_its_corpus(tmp_path, monkeypatch):
    """Source names on the command line and the corpus sections they refer to agree."""
    import contaffect.cli as cli

    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    seen = {}
    monkeypatch.setattr(cli, "_run_config", lambda cfg, out, args: seen.setdefault("cfg", cfg)
                        and 0)
    assert main(["cross-task", "--sources", f"{tmp_path / 'link'}:recola_like",
                 "--workdir", str(tmp_path / "w")]) == 0
    ct = seen["cfg"].crosstask
    assert ct.sources == (("real", "recola_like"),)
    assert "real" in seen["cfg"].corpora
