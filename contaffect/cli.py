"""The ``contaffect`` command line.

Every :class:`~contaffect.errors.ContaffectError` is printed as one line
(``contaffect: error: ...``) with exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from contaffect import __version__
from contaffect.errors import ConfigError, ContaffectError

log = logging.getLogger("contaffect")


def _extract_sets(names: list[str]) -> list:
    """``--features`` values as feature sets: store names, or ``ssl:<folder>`` with ``[ssl]``
    defaults; every problem is a one-line error before any work."""
    from contaffect.features.smile import FEATURE_SETS, get_feature_set
    from contaffect.features.ssl_config import is_ssl

    out = []
    for name in names:
        if not is_ssl(name) and name not in FEATURE_SETS:
            raise ConfigError(f"--features: unknown feature set {name!r}; choose from "
                              f"{', '.join(sorted(FEATURE_SETS))} or ssl:<model folder>")
        out.append(get_feature_set(name) if is_ssl(name) else name)
    return out


def _cmd_extract(args: argparse.Namespace) -> int:
    from contaffect.corpus import load_corpus
    from contaffect.features import extract_corpus

    from contaffect.features.config import FeatureConfig
    from contaffect.options import check_value

    check_value(FeatureConfig, "workers", args.workers, "--workers")
    scheduler = check_value(FeatureConfig, "scheduler", args.scheduler, "--scheduler")
    sets = _extract_sets(args.features)
    repairs = {k: getattr(args, k) for k in ("on_nan", "on_ragged") if getattr(args, k)}
    corpus = load_corpus(args.corpus, name=args.name, on_missing_audio=args.on_missing_audio,
                         **repairs)
    print(f"{corpus}", file=sys.stderr)
    status = 0
    for fs in sets:
        report = extract_corpus(corpus, args.store, fs, workers=args.workers,
                                skip_bad=args.skip_bad, progress=not args.quiet,
                                scheduler=scheduler)
        for line in report.lines():
            print(line)
        if report.skipped:
            status = 1
    return status


def _cmd_ssl_random(args: argparse.Namespace) -> int:
    from contaffect.features.ssl_random import save_random_model

    folder = Path(args.folder)
    if folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty; give a new folder")
    save_random_model(folder, args.family, args.size, seed=args.seed)
    print(f"random {args.size} {args.family} encoder (seed {args.seed}) written to {folder}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import pandas as pd

    from contaffect.features import FeatureStore

    store_dir = Path(args.store)
    if not (store_dir / "store.json").is_file():
        raise ContaffectError(f"{store_dir} is not a contaffect feature store (no store.json)")
    # corrupt entries (truncated, checksum mismatch, no checksum) are listed, not raised:
    # the store is still usable and the next extraction run writes them again
    table, corrupt = FeatureStore(store_dir).inspect()
    if args.json:
        records = table.to_dict("records")
        for row in records:
            group = store_dir / row["corpus"] / row["id"]
            row["corrupt_entries"] = [c.to_dict() for c in corrupt if group in c.path.parents]
        print(json.dumps(records, indent=2, default=str))
        return 0
    if table.empty:
        print(f"{store_dir}: empty store")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"store {store_dir.resolve()}")
        print(table.to_string(index=False))
    if corrupt:
        print(f"{len(corrupt)} corrupt entr{'y' if len(corrupt) == 1 else 'ies'}, "
              "re-extracted on the next `contaffect extract` run:")
        for c in corrupt:
            print(f"corrupt: {c.path} ({c.describe()})")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from contaffect.experiment.config import CorpusSpec
    from contaffect.options import check_value
    from contaffect.synth.generate import generate
    from contaffect.synth.plot import plot_recording
    from contaffect.synth.presets import get_preset

    # the same declarations as [corpora.<name>] scale / seed in configs
    check_value(CorpusSpec, "scale", args.scale, "--scale")
    check_value(CorpusSpec, "seed", args.seed, "--seed")
    if args.workers < 1:
        raise ConfigError(f"--workers: expected an integer >= 1, got {args.workers}")
    preset = get_preset(args.preset)
    report = generate(preset, args.out, scale=args.scale, seed=args.seed, workers=args.workers,
                      progress=not args.quiet, overwrite=args.overwrite)
    print(f"{preset.name}: {report['recordings']} recordings, {report['speakers']} speakers, "
          f"{report['hours'] * 60:.1f} min of audio in {args.out} ({preset.layout} layout, "
          f"seed {args.seed}, scale {args.scale:g})")
    if isinstance(report.get("ceiling"), dict):
        for dim, cc in report["ceiling"].items():
            print(f"ceiling {dim}: CC(gold, truth) = {cc['pooled']:.3f} pooled, "
                  f"{cc['per_recording']:.3f} mean per recording")
    if "classes" in report:
        print("classes: " + ", ".join(f"{k}={v}" for k, v in report["classes"].items()))
    if isinstance(report.get("ceiling"), float):
        print(f"ceiling: UAR {report['ceiling']:.3f} of the nearest category to each "
              "utterance's latent point")
    if args.plot:
        if preset.panel is None:
            print("--plot: a categorical corpus has no traces to plot", file=sys.stderr)
        else:
            print(f"plot: {plot_recording(args.out)}")
    return 0


#: Flags every experiment command accepts: how the machine is used, never what is computed
#: (flag, dest, section, key). Each maps to one declared option, whose type, range and
#: help text the flag takes over, so that a flag and its TOML key cannot disagree.
RUNTIME_FLAGS = (
    ("--threads", "threads", "training", "threads"),
    ("--device", "device", "training", "device"),
    ("--workers", "workers", "features", "workers"),
    ("--scheduler", "scheduler", "features", "scheduler"),
)


def _section_class(section: str) -> type:
    from contaffect.features.config import FeatureConfig
    from contaffect.models.config import TrainConfig

    return {"features": FeatureConfig, "training": TrainConfig}[section]


def _runtime_args(p: argparse.ArgumentParser) -> None:
    """Add :data:`RUNTIME_FLAGS` to an experiment command (help from the declarations)."""
    for flag, dest, section, key in RUNTIME_FLAGS:
        cls = _section_class(section)
        meta = cls.__dataclass_fields__[key].metadata["option"]
        p.add_argument(flag, dest=dest, default=None, metavar=key.upper(),
                       help=f"{meta.doc} (default {_default(cls, key)}; as [{section}] {key})")


def _runtime_overrides(args: argparse.Namespace) -> dict:
    """The ``{section: {key: value}}`` set by :data:`RUNTIME_FLAGS` (strings are parsed by the
    declarations: ``--threads 2`` is checked like ``threads = 2``)."""
    out: dict = {}
    for flag, dest, section, key in RUNTIME_FLAGS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        kind = _section_class(section).__dataclass_fields__[key].metadata["option"].type
        out.setdefault(section, {})[key] = _parse_flag(value, kind, flag)
    return out


def _parse_flag(text: str, kind, flag: str):
    """A flag's text as the declared type (an int or float where the option takes one)."""
    from contaffect.options import Float, Int

    if isinstance(kind, (Int, Float)):
        try:
            return (int if isinstance(kind, Int) else float)(text)
        except ValueError:
            what = "an integer" if isinstance(kind, Int) else "a number"
            raise ConfigError(f"{flag}: expected {what}, got {text!r}") from None
    return text


def _merge(data: dict, overrides: dict) -> dict:
    """``data`` with ``overrides`` merged in, one level of sections deep."""
    out = dict(data)
    for key, value in overrides.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def _runtime_flag_names() -> dict[str, str]:
    return {f"{section}.{key}": flag for flag, _, section, key in RUNTIME_FLAGS}


def _run_config(cfg, out, args) -> int:
    from contaffect.experiment.runner import run_experiment

    report = run_experiment(cfg, out, progress=not args.quiet)
    print((report / "README.md").read_text())
    print(f"report: {report.resolve()}")
    return 0


def _config(data: dict, source: str, flags: dict[str, str] | None = None, base_dir=None):
    """Validate a config dict built from flags; errors name the flag as well as the key."""
    from contaffect.experiment.config import from_dict

    try:
        return from_dict(data, base_dir=base_dir, source=source)
    except ConfigError as exc:
        raise ConfigError(_name_flag(str(exc), flags or {})) from None


def _name_flag(text: str, flags: dict[str, str]) -> str:
    """A config error's text with the flag that set the offending key, when one did."""
    for key, flag in flags.items():
        if (f": {key}" in text or f" {key}." in text or f": {key}." in text
                or f".{key}:" in text or f".{key}." in text):
            return f"{text} (set by {flag})"
    return text


def _cmd_run(args: argparse.Namespace) -> int:
    from contaffect.experiment.config import load_config

    overrides = _runtime_overrides(args)
    if args.workdir:
        overrides["workdir"] = args.workdir
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        raise ConfigError(_name_flag(str(exc), _runtime_flag_names())) from None
    return _run_config(cfg, args.out, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from contaffect.experiment.config import demo_data

    data = demo_data()
    data["workdir"] = args.workdir
    for spec in data["corpora"].values():
        if args.scale is not None:
            spec["scale"] = args.scale
    if args.epochs is not None:
        data.setdefault("training", {})["epochs"] = args.epochs
    data = _merge(data, _runtime_overrides(args))
    cfg = _config(data, "contaffect demo", {"corpora": "--scale", "training.epochs": "--epochs",
                                            **_runtime_flag_names()})
    return _run_config(cfg, args.out, args)


_TRAINING_FLAGS = {"training.epochs": "--epochs", "seeds": "--seeds", "lag_s": "--lag",
                   "on_mismatch": "--on-mismatch", "on_nan": "--on-nan",
                   "on_ragged": "--on-ragged", "scale": "--scale", "seed": "--data-seed",
                   "protocol.dimensions": "--dims", "crosstask.dimensions": "--dims",
                   "workdir": "--workdir"}


def _training_data(args: argparse.Namespace, name: str) -> dict:
    """Top-level keys and [training] of a config built from the shared training flags."""
    data: dict = {"name": name, "workdir": args.workdir}
    if args.seeds is not None:
        data["seeds"] = args.seeds
    if args.epochs is not None:
        data["training"] = {"epochs": args.epochs}
    return data


def _cmd_cross_corpus(args: argparse.Namespace) -> int:
    specs = [_corpus_spec(v, args) for v in (args.train, args.val, args.test)]
    names = [n for n, _ in specs]
    if len(set(names)) < 3:
        raise ConfigError(f"--train, --val and --test must name three different corpora, got "
                          f"{names}")
    data = _training_data(args, f"cross-corpus {names[0]} -> {names[1]} -> {names[2]}")
    data["corpora"] = dict(specs)
    data["protocol"] = {"assignments": [names]}
    if args.dims is not None:
        data["protocol"]["dimensions"] = args.dims
    data = _merge(data, _runtime_overrides(args))
    return _run_config(_config(data, "command line", {**_TRAINING_FLAGS,
                                                      **_runtime_flag_names()}), args.out, args)


def _cmd_cross_task(args: argparse.Namespace) -> int:
    pairs = []
    for text in args.sources:
        train, sep, val = text.partition(":")
        if not sep or not train or not val:
            raise ConfigError(f"--sources takes TRAIN:VAL pairs (e.g. semaine_like:recola_like), "
                              f"got {text!r}")
        pairs.append((train, val))
    corpora = {}
    for value in {c for pair in pairs for c in pair}:
        name, s = _corpus_spec(value, args)
        corpora[name] = s
    tname, tspec = _corpus_spec(args.target, args)
    if args.partitions:
        tspec["partitions"] = str(Path(args.partitions).resolve())
    if args.mapping:
        tspec["mapping"] = args.mapping
    corpora[tname] = tspec
    classes = args.classes
    if classes is None:
        if args.mapping:
            from contaffect.labels.mapping import load_mapping

            mapping = load_mapping(args.mapping)
            if args.label not in mapping.classes:
                raise ConfigError(f"mapping {mapping.name!r} gives no {args.label!r} classes "
                                  f"(it gives {mapping.dimensions})")
            classes = mapping.classes[args.label]
        elif args.target == "usoms_like":
            classes = ["l", "m", "h"]
        else:
            raise ConfigError("give --classes in ascending order (e.g. --classes l m h), or "
                              "--mapping to take them from a category mapping")
    name_of = {v: _corpus_spec(v, args)[0] for pair in pairs for v in pair}
    ct = {"target": tname, "labels": {args.label: list(classes)},
          "sources": [[name_of[a], name_of[b]] for a, b in pairs],
          "combined": not args.no_combined}
    for key in ("functional", "fit_on", "evaluate_on", "direction"):
        if getattr(args, key) is not None:
            ct[key] = getattr(args, key)
    if args.dims is not None:
        ct["dimensions"] = args.dims
    data = _training_data(args, f"cross-task onto {tname} ({args.label})")
    data.update(corpora=corpora, crosstask=ct)
    data = _merge(data, _runtime_overrides(args))
    flags = {**_TRAINING_FLAGS, **_runtime_flag_names(), "crosstask.functional": "--functional",
             "crosstask.fit_on": "--fit-on", "crosstask.evaluate_on": "--evaluate-on",
             "crosstask.direction": "--direction", "crosstask.labels": "--classes",
             "crosstask.sources": "--sources", "crosstask.target": "--target"}
    return _run_config(_config(data, "command line", flags), args.out, args)


_MC_FLAGS = {"multicorpus.protocols": "--protocols", "multicorpus.representations":
             "--representations", "multicorpus.classifiers": "--classifiers",
             "multicorpus.selection": "--selection", "multicorpus.normalise": "--normalise",
             "multicorpus.balance": "--balance", "multicorpus.folds": "--folds",
             "multicorpus.fractions": "--fractions", "multicorpus.bootstrap": "--bootstrap",
             "multicorpus.seed": "--seed", "multicorpus.classes": "--classes",
             "multicorpus.label": "--label", "mapping": "--mapping",
             "partitions": "--partitions", "workdir": "--workdir"}


def _cmd_multi_corpus(args: argparse.Namespace) -> int:
    corpora: dict = {}
    for value in args.corpora:
        name, spec = _corpus_spec(value, args)
        if name in corpora:
            raise ConfigError(f"corpus {name!r} is listed twice")
        if args.mapping:
            spec["mapping"] = args.mapping
            if args.unmapped is not None:
                spec["unmapped"] = args.unmapped
        corpora[name] = spec
    for text in args.partitions or []:
        name, sep, path = text.partition("=")
        if not sep or name not in corpora:
            raise ConfigError(f"--partitions takes NAME=CSV with NAME one of {list(corpora)}, "
                              f"got {text!r}")
        corpora[name]["partitions"] = str(Path(path).resolve())
    if args.classes is None:            # name the flags, not the config keys
        if not args.mapping:
            raise ConfigError(f"--label {args.label}: its classes are unknown; give --mapping "
                              "(a packaged mapping such as acted_basic_av, or a CSV) or "
                              "--classes")
        from contaffect.labels.mapping import load_mapping

        known = load_mapping(args.mapping).classes
        if args.label not in known:
            raise ConfigError(f"--mapping {args.mapping} has no {args.label!r} label (it has "
                              f"{sorted(known)}); give another --label or --mapping, or "
                              "--classes")
    mc: dict = {"corpora": list(corpora), "label": args.label}
    for key in ("classes", "protocols", "representations", "classifiers", "selection",
                "normalise", "balance", "folds", "fractions", "bootstrap", "seed"):
        if getattr(args, key) is not None:
            mc[key] = getattr(args, key)
    data = {"name": f"multi-corpus {args.label}: {', '.join(corpora)}",
            "workdir": args.workdir, "corpora": corpora, "multicorpus": mc}
    data = _merge(data, _runtime_overrides(args))
    return _run_config(_config(data, "command line", {**_MC_FLAGS, **_runtime_flag_names()}),
                       args.out, args)


def _cmd_fuse(args: argparse.Namespace) -> int:
    import pandas as pd

    from contaffect.corpus import load_corpus
    from contaffect.corpus.labelfile import read_label_file
    from contaffect.experiment.config import FusionSpec
    from contaffect.experiment.fuse import read_score_table
    from contaffect.experiment.report import write_fusion
    from contaffect.experiment.utterance_run import fusion_outcomes
    from contaffect.options import Invalid, build

    given = {"method": args.method, "scores": args.score_type, "n_candidates": args.candidates}
    flags = {"method": "--method", "scores": "--score-type", "n_candidates": "--candidates"}
    try:                      # the [fusion] declarations: same choices, ranges and defaults
        fu = build(FusionSpec, {k: v for k, v in given.items() if v is not None})
    except Invalid as exc:
        raise ConfigError(f"{flags.get(exc.path.split('[')[0], exc.path)}: {exc.message}") from None
    if args.seed < 0:
        raise ConfigError(f"--seed: expected an integer >= 0, got {args.seed}")
    corpus = load_corpus(args.corpus)
    if args.partitions:
        from contaffect.corpus.partitions import assign_partitions

        corpus = assign_partitions(corpus, args.partitions)
    if args.mapping:
        from contaffect.corpus.mapping import apply_mapping
        from contaffect.labels.mapping import load_mapping

        corpus = apply_mapping(corpus, load_mapping(args.mapping))
    classes = args.classes
    comps = {}
    for path in args.scores:
        name = Path(path).stem.replace("__", "/")
        comps[name] = read_score_table(path, classes)
    if classes is None:
        first = next(iter(comps.values()))
        classes = [c for c in first.columns if c not in ("id", "partition")]
    devel = {r.id: r.labels.get(args.label) for r in corpus if r.partition == "devel"}
    if not devel:
        raise ConfigError(f"corpus {corpus.name!r} has no devel partition to fit the fusion on "
                          "(give --partitions)")
    if any(v is None for v in devel.values()):
        raise ConfigError(f"devel recordings of {corpus.name!r} lack {args.label!r} labels")
    test_labels = read_label_file(Path(args.test_labels), args.label) if args.test_labels else None
    outcomes = fusion_outcomes(comps, pd.Series(devel), classes, fu.method, scores=fu.scores,
                               n_candidates=fu.n_candidates, random_state=args.seed,
                               test_labels=test_labels)
    out = Path(args.out)
    md = [f"# Score-level fusion on {corpus.name} ({args.label})\n",
          "Weights fit on devel only; components and fusion scored on test once, if "
          "--test-labels is given. UAR / WAR in %.\n"]
    md += write_fusion(out, outcomes, classes, corpus.name)
    (out / "README.md").write_text("\n".join(md))
    print("\n".join(md))
    print(f"report: {out.resolve()}")
    return 0


def _cmd_to_audformat(args: argparse.Namespace) -> int:
    from contaffect.corpus import load_corpus
    from contaffect.corpus.audformat_io import write_audformat

    repairs = {k: getattr(args, k) for k in ("on_nan", "on_ragged") if getattr(args, k)}
    corpus = load_corpus(args.source, format=args.format, **repairs)
    out = write_audformat(corpus, args.out, name=args.name)
    dims = corpus.dimensions
    print(f"{corpus.name}: {len(corpus)} recordings, {len(corpus.speakers)} speakers"
          + (f", traces {', '.join(dims)}" if dims else "")
          + (f", partitions {', '.join(corpus.partitions)}" if corpus.partitions else "")
          + f" -> audformat database {out}")
    return 0


def _default(cls, name: str) -> str:
    from contaffect.options import default_of

    value = default_of(cls, name)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    if value == "":
        return '""'
    return str(value)


def _training_args(p: argparse.ArgumentParser, workdir: str) -> None:
    """Options shared by the commands that train LSTMs on named corpora.

    Defaults are not repeated here: an unset flag leaves the config's declared
    default (shown in the help), so the CLI and TOML configs cannot disagree.
    """
    from contaffect.experiment.config import CorpusSpec, ExperimentConfig
    from contaffect.labels.processing import MISMATCH_REPAIRS, NAN_REPAIRS, RAGGED_REPAIRS
    from contaffect.models.config import TrainConfig

    p.add_argument("--epochs", type=int,
                   help=f"epochs (default {_default(TrainConfig, 'epochs')})")
    p.add_argument("--seeds", type=int, nargs="+",
                   help=f"training seeds (default {_default(ExperimentConfig, 'seeds')})")
    p.add_argument("--lag", type=float,
                   help=f"annotator lag in s for every dimension (default "
                        f"{_default(CorpusSpec, 'lag_s')})")
    p.add_argument("--on-mismatch", choices=MISMATCH_REPAIRS.names(),
                   help=f"traces that do not cover their audio (default "
                        f"{_default(CorpusSpec, 'on_mismatch')})")
    p.add_argument("--on-nan", choices=NAN_REPAIRS.names(),
                   help=f"NaN values in traces (default {_default(CorpusSpec, 'on_nan')})")
    p.add_argument("--on-ragged", choices=RAGGED_REPAIRS.names(),
                   help=f"raters' traces of different lengths (default "
                        f"{_default(CorpusSpec, 'on_ragged')})")
    p.add_argument("--scale", type=float,
                   help=f"size of synthetic corpora (default {_default(CorpusSpec, 'scale')})")
    p.add_argument("--data-seed", type=int,
                   help=f"seed of synthetic corpora (default {_default(CorpusSpec, 'seed')})")
    p.add_argument("--workdir", default=workdir)
    p.add_argument("--out", help="report folder (default WORKDIR/report)")
    _runtime_args(p)


def _corpus_spec(value: str, args: argparse.Namespace) -> tuple[str, dict]:
    """(name, [corpora.<name>] table) of a preset name or a corpus folder on the command line."""
    from contaffect.synth.presets import PRESETS

    spec: dict = {}
    if args.lag is not None:
        spec["lag_s"] = args.lag
    for key in ("on_mismatch", "on_nan", "on_ragged"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if value in PRESETS:
        spec["synthetic"] = value
        if args.scale is not None:
            spec["scale"] = args.scale
        if args.data_seed is not None:
            spec["seed"] = args.data_seed
        return value, spec
    spec["path"] = str(Path(value).resolve())
    return Path(value).resolve().name, spec


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``contaffect: error: ...``, exit 2), like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"contaffect: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from contaffect.features.smile import FEATURE_SETS

    from contaffect.experiment.config import PARTITIONS, CorpusSpec
    from contaffect.experiment.functionals import FUNCTIONALS
    from contaffect.features.config import FeatureConfig
    from contaffect.options import default_of
    parser = _Parser(
        prog="contaffect",
        description="Time-continuous affect from speech: cross-corpus and cross-task "
                    "(Kaya, Fedotov et al., Interspeech 2018).",
    )
    parser.add_argument("--version", action="version", version=f"contaffect {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # the same two flags are accepted after the command too
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug logs")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add = sub.add_parser

    def add_parser(*a, **kw):
        return _add(*a, parents=[common], **kw)

    sub.add_parser = add_parser

    p = sub.add_parser(
        "extract", help="extract openSMILE features of a corpus folder into a feature store",
        description="Extract openSMILE features for every recording of a corpus into an "
                    "HDF5 feature store. Files already stored with the same audio are read, "
                    "not extracted again; an interrupted run resumes.")
    p.add_argument("corpus", help="corpus folder (with a labels.csv; see README)")
    p.add_argument("--store", required=True, help="feature store folder (created if absent)")
    p.add_argument("--features", nargs="+", default=["compare2016_lld"], metavar="SET",
                   help="feature set(s): " + ", ".join(sorted(FEATURE_SETS))
                   + ", or ssl:<model folder> with the [ssl] defaults (default: compare2016_lld)")
    p.add_argument("--workers", type=int, default=default_of(FeatureConfig, "workers"),
                   help=f"parallel files (default {default_of(FeatureConfig, 'workers')}, as "
                        "[features] workers)")
    p.add_argument("--scheduler", default="", metavar="ADDRESS",
                   help="extract on an existing Dask cluster: its scheduler address "
                        "(tcp://host:port) or scheduler JSON file; the workers write the store, "
                        "which they must share (default: local threads; as [features] "
                        "scheduler; see docs/distributed.md)")
    p.add_argument("--skip-bad", action="store_true",
                   help="extract the good files and list the unusable ones "
                        "(default: stop before writing anything)")
    p.add_argument("--name", help="corpus name in the store (default: folder name)")
    p.add_argument("--on-missing-audio", choices=["error", "skip"], default=None,
                   help="rows of labels.csv whose audio is missing (default: error)")
    from contaffect.labels.processing import NAN_REPAIRS, RAGGED_REPAIRS

    p.add_argument("--on-nan", choices=NAN_REPAIRS.names(),
                   help="NaN values in trace files (default: error)")
    p.add_argument("--on-ragged", choices=RAGGED_REPAIRS.names(),
                   help="raters' traces of different lengths (default: error)")
    p.set_defaults(func=_cmd_extract)

    from contaffect.synth.presets import PRESETS

    p = sub.add_parser(
        "synth", help="generate a synthetic corpus in its real counterpart's layout",
        description="Generate speech-like audio driven by latent arousal / valence, rated by "
                    "a simulated panel, written in the on-disk layout of the real corpus. "
                    "Presets: " + "; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    p.add_argument("preset", choices=sorted(PRESETS), metavar="PRESET",
                   help="one of " + ", ".join(sorted(PRESETS)))
    p.add_argument("--out", required=True, help="output folder (new or empty)")
    p.add_argument("--scale", type=float, default=default_of(CorpusSpec, "scale"),
                   help="size: 1 = demo default; >1 more speakers; <1 shorter recordings")
    p.add_argument("--seed", type=int, default=default_of(CorpusSpec, "seed"),
                   help=f"random seed (default {default_of(CorpusSpec, 'seed')})")
    p.add_argument("--workers", type=int, default=1, help="recordings rendered in parallel")
    p.add_argument("--plot", action="store_true",
                   help="also write a PNG of one recording: truth, raters, gold, spectrogram")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "demo", help="the paper's Table 1 on the synthetic presets (a few minutes on 2 cores)",
        description="Generate recola_like, semaine_like and creativeit_like, extract features, "
                    "train LSTMs on each corpus, choose the epoch on a second and test on the "
                    "third (all six assignments, arousal and valence), and write a report.")
    p.add_argument("--workdir", default="contaffect-demo",
                   help="data, feature store and checkpoints (default ./contaffect-demo)")
    p.add_argument("--out", help="report folder (default WORKDIR/report)")
    p.add_argument("--scale", type=float, help="size of the synthetic corpora (default 1)")
    p.add_argument("--epochs", type=int, help="override the 5 epochs of the paper")
    _runtime_args(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("run", help="run an experiment TOML config and write its report",
                       description="Run every assignment, seed and ablation of a TOML config "
                                   "(see experiments/table1/config.toml).")
    p.add_argument("config", help="experiment TOML file")
    p.add_argument("--workdir", help="override the config's workdir")
    p.add_argument("--out", help="report folder (default WORKDIR/report)")
    _runtime_args(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "cross-corpus", help="train on A, pick the epoch on B, test on C",
        description="One cross-corpus assignment. A, B, C are corpus folders (any supported "
                    "layout) or synthetic preset names.")
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--dims", nargs="+", help="dimensions (default arousal valence)")
    _training_args(p, "contaffect-runs/cross-corpus")
    p.set_defaults(func=_cmd_cross_corpus)

    p = sub.add_parser(
        "cross-task", help="dimensional models -> utterance classes of another corpus (Table 4)",
        description="Train LSTMs on dimensional corpora (epoch picked on a second corpus), "
                    "apply them to every utterance of a categorical TARGET, and cut the "
                    "utterance-mean predictions into ordinal classes with thresholds fit for "
                    "UAR on the target's training partition. Corpora are folders or synthetic "
                    "preset names.")
    p.add_argument("--target", default="usoms_like",
                   help="categorical corpus (default: the synthetic usoms_like)")
    p.add_argument("--sources", nargs="+", metavar="TRAIN:VAL",
                   default=["semaine_like:recola_like", "recola_like:semaine_like",
                            "creativeit_like:recola_like"],
                   help="source models: train on TRAIN, pick the epoch on VAL")
    p.add_argument("--label", default="valence", help="target label to predict (default valence)")
    p.add_argument("--classes", nargs="+",
                   help="its classes in ascending order (default: l m h for usoms_like, "
                        "or the mapping's)")
    p.add_argument("--mapping", help="category mapping that adds arousal / valence classes "
                                     "(packaged name or CSV path), e.g. acted_basic_av")
    p.add_argument("--partitions", help="CSV with speaker,partition for a target without "
                                        "partitions")
    p.add_argument("--dims", nargs="+",
                   help="model targets (default arousal valence)")
    p.add_argument("--no-combined", action="store_true",
                   help="skip the 2-D (all dimensions) score")
    p.add_argument("--functional", choices=list(FUNCTIONALS),
                   help="frames -> utterance score (default mean, the paper's)")
    p.add_argument("--fit-on", nargs="+", choices=list(PARTITIONS),
                   help="partitions the thresholds are fit on (default train; never test)")
    p.add_argument("--evaluate-on", nargs="+", choices=list(PARTITIONS),
                   help="partitions scored (default train devel)")
    p.add_argument("--direction",
                   help="score order (default increasing, the paper's)")
    _training_args(p, "contaffect-runs/cross-task")
    p.set_defaults(func=_cmd_cross_task)

    from contaffect.experiment.config import MultiCorpusSpec

    p = sub.add_parser(
        "multi-corpus", help="categorical corpora combined: matched, pooled, leave-one-out, ...",
        description="Run multi-corpus protocols on categorical corpora (folders or synthetic "
                    "presets such as ravdess_like emovo_like emodb_like) with harmonised labels: "
                    "every representation x classifier, selected on a selection set, UAR with "
                    "speaker-bootstrap intervals and McNemar's test against matched training.")
    p.add_argument("corpora", nargs="+", metavar="CORPUS",
                   help="corpus folders or synthetic preset names (two or more)")
    p.add_argument("--label", required=True, help="harmonised label, e.g. arousal")
    p.add_argument("--classes", nargs="+", help="its classes, ascending (default: the "
                                                "mapping's)")
    p.add_argument("--mapping", help="category mapping for every corpus (packaged name or CSV), "
                                     "e.g. acted_basic_av")
    p.add_argument("--unmapped", help="categories the mapping does not list: error or drop "
                                      f"(default {_default(CorpusSpec, 'unmapped')})")
    p.add_argument("--partitions", nargs="+", metavar="NAME=CSV",
                   help="speaker-independent partitions of a corpus (speaker,partition)")
    from contaffect.options import config_keys

    fields = config_keys(MultiCorpusSpec)
    for key, kw in (("protocols", {}), ("representations", {}), ("classifiers", {}),
                    ("selection", {}), ("fractions", {"type": float})):
        p.add_argument(f"--{key}", nargs="+", **kw,
                       help=f"{fields[key][1].doc} Takes "
                            f"{fields[key][1].type.describe()} (default "
                            f"{_default(MultiCorpusSpec, key)})")
    for key, kw in (("normalise", {}), ("balance", {}), ("folds", {"type": int}),
                    ("bootstrap", {"type": int}), ("seed", {"type": int})):
        p.add_argument(f"--{key}", **kw, help=f"{fields[key][1].doc} "
                                              f"(default {_default(MultiCorpusSpec, key)})")
    p.add_argument("--lag", type=float, help=argparse.SUPPRESS)
    for key in ("on_mismatch", "on_nan", "on_ragged"):
        p.set_defaults(**{key: None})
    p.add_argument("--scale", type=float, help="size of synthetic corpora (default 1)")
    p.add_argument("--data-seed", type=int, help="seed of synthetic corpora (default 0)")
    p.add_argument("--workdir", default="contaffect-runs/multi-corpus")
    p.add_argument("--out", help="report folder (default WORKDIR/report)")
    _runtime_args(p)
    p.set_defaults(func=_cmd_multi_corpus)

    p = sub.add_parser(
        "fuse", help="fuse systems' score tables: weights fit on devel, applied to test",
        description="Score-level fusion (Kaya, Fedotov et al. 2018): each SCORES file has "
                    "columns id, partition and one per class (as written by `contaffect run` "
                    "in report/scores/, or by any other tool). Weights are chosen for UAR on "
                    "the corpus' devel labels; test rows are predicted, and scored once if "
                    "--test-labels is given.")
    p.add_argument("scores", nargs="+", help="score tables (CSV), two or more")
    p.add_argument("--corpus", required=True, help="the corpus folder (devel labels)")
    p.add_argument("--label", required=True, help="label column, e.g. valence")
    p.add_argument("--classes", nargs="+", help="class order (default: the score columns)")
    p.add_argument("--partitions", help="CSV speaker,partition if the corpus has none")
    p.add_argument("--mapping", help="category mapping adding the label (e.g. acted_basic_av)")
    p.add_argument("--method", nargs="+",
                   help="fusion method(s): weighted, class_weighted (default class_weighted)")
    p.add_argument("--score-type",
                   help="fuse one-vs-all code matrices (default, the paper's) or z-scores")
    p.add_argument("--candidates", type=int, help="size of the weight pool (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-labels", help="file with test labels (scored once)")
    p.add_argument("--out", default="contaffect-fusion", help="report folder")
    p.set_defaults(func=_cmd_fuse)

    from contaffect.features.ssl_random import FAMILIES, SIZES

    p = sub.add_parser(
        "ssl-random", help="save a randomly initialised SSL model to a folder (plumbing checks)",
        description="Write a seeded random wav2vec 2.0 / HuBERT / WavLM encoder with "
                    "save_pretrained, so that every SSL path (extraction, store, heads, "
                    "fusion) can be run without weights. Its numbers mean nothing; its "
                    "shapes, speed and memory are the architecture's. Needs contaffect[ssl].")
    p.add_argument("folder", help="where to write config.json and model.safetensors")
    p.add_argument("--family", choices=sorted(FAMILIES), default="hubert")
    p.add_argument("--size", choices=sorted(SIZES), default="tiny",
                   help="tiny (2 layers, 32 wide) or base (12 x 768, about 95 M parameters)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_ssl_random)

    p = sub.add_parser("info", help="what a feature store holds: corpora, shapes, versions")
    p.add_argument("store", help="feature store folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    from contaffect.corpus import LOADERS

    p = sub.add_parser(
        "to-audformat", help="write a corpus folder (any layout) as an audformat database",
        description="Load a corpus in any layout contaffect reads and write it as an "
                    "audformat database (db.yaml + tables): a files table (speaker, "
                    "partition, labels), one segmented table per dimension with a column "
                    "per rater, splits. Audio outside OUT is copied to OUT/audio/.")
    p.add_argument("source", metavar="SOURCE", help="corpus folder")
    p.add_argument("out", metavar="OUT", help="database folder (must not hold a db.yaml)")
    p.add_argument("--format", default="auto", choices=["auto", *LOADERS.names()],
                   help="layout of SOURCE (default: auto, detected)")
    p.add_argument("--name", help="database name (default: the corpus name)")
    p.add_argument("--on-nan", choices=NAN_REPAIRS.names(),
                   help="NaN values in trace files (default: error)")
    p.add_argument("--on-ragged", choices=RAGGED_REPAIRS.names(),
                   help="raters' traces of different lengths (default: error)")
    p.set_defaults(func=_cmd_to_audformat)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``contaffect`` command."""
    parser = build_parser()       # (import contaffect made OpenMP's waiting passive)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:              # --help, --version, or a one-line usage error
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s: %(message)s" if args.debug else "%(message)s",
    )
    for noisy in ("matplotlib", "h5py", "numba", "audeer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if _launched_by_torchrun():
        return _distributed(args)
    return _guarded(args)


def _launched_by_torchrun() -> bool:
    import os

    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _distributed(args: argparse.Namespace) -> int:
    """Under torchrun: rank 0 runs the command, the other ranks train with it (DDP)."""
    from contaffect.models import distributed as dist

    dist.init_from_env()
    try:
        if not dist.is_main():
            dist.serve()
            return 0
        try:
            return _guarded(args)
        finally:
            dist.shutdown()
    finally:
        import torch

        torch.distributed.destroy_process_group()


def _guarded(args: argparse.Namespace) -> int:
    """Run a command; every error becomes one line (a traceback only with ``--debug``)."""
    try:
        return args.func(args)
    except ContaffectError as exc:
        if args.debug:
            raise
        print(f"contaffect: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable folder, full disk, ...: say which file, not a traceback
        if args.debug:
            raise
        print(f"contaffect: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("contaffect: interrupted; finished entries are kept, rerun to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
