"""The ``[multicorpus]`` part: categorical corpora combined under every protocol.

Flow: the corpora are stacked in a :class:`~contaffect.experiment.pool.Pool`
(harmonised labels through their mappings); every protocol
(:mod:`contaffect.experiment.splits`) becomes splits of it, for the corpora's
own partitions or for ``k`` speaker-independent folds; everything that only
the data can refuse is checked before any feature is extracted.

Features are extracted once per corpus and representation and shared by all
protocols. A classifier's grid is fit once per distinct training set (and
normalisation), and each fitted model scores every utterance; selection sets
then only choose among cached scores, so in-domain, pooled and third-corpus
selection cost no extra fit. Test labels are read after every choice is made.

Each result row carries the test UAR with a speaker-bootstrap confidence
interval; McNemar's exact test compares each system with the same system
under matched training, and with the best matched system (chosen on devel),
on the utterances both predicted.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.errors import ConfigError, ProtocolError
from contaffect.experiment.pool import Pool
from contaffect.experiment.splits import Split, make_splits
from contaffect.experiment.timing import stage
from contaffect.metrics import uar, war

log = logging.getLogger(__name__)

KEYS = ["protocol", "split", "label", "selection", "test", "representation", "classifier"]


@dataclass
class MultiCorpusPart:
    """What the ``[multicorpus]`` part computed; :mod:`~contaffect.experiment.report` writes it.

    Attributes
    ----------
    results
        One row per fold x split x label x selection x test corpus x system
        (``selected`` marks the system chosen on the selection set).
    summary
        The same over folds: mean and sd of the fold UARs, the UAR of all
        folds' predictions with its bootstrap interval, McNemar p-values.
    predictions
        Every test prediction (fold, pool index, truth, prediction).
    class_counts, coverage, mapping
        Harmonisation and speaker-coverage reports.
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    predictions: pd.DataFrame
    class_counts: pd.DataFrame
    coverage: pd.DataFrame
    mapping: pd.DataFrame = field(default_factory=pd.DataFrame)
    classes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    corpora: list = field(default_factory=list)
    variant: str = "main"
    reference: str = ""
    embeddings: pd.DataFrame = field(default_factory=pd.DataFrame)


# ---------------------------------------------------------------- preparation
def build_pool(pipe, cfg=None) -> tuple[Pool, pd.DataFrame]:
    """The configured corpora stacked with their harmonised labels, and the mapping report."""
    from contaffect.experiment.config import multicorpus_classes

    cfg = cfg or pipe.cfg
    mc = cfg.multicorpus
    classes = multicorpus_classes(cfg)
    corpora = {name: pipe.corpus(name) for name in (*mc.corpora, *mc.selection_corpora)}
    pool = Pool.build(corpora, classes, mc.selection_corpora)
    return pool, _mapping_report(pipe, corpora)


def _mapping_report(pipe, corpora) -> pd.DataFrame:
    from contaffect.corpus.mapping import mapping_summary
    from contaffect.labels.mapping import load_mapping

    frames = []
    for name in corpora:
        spec = pipe.cfg.corpora[name]
        if spec.mapping:
            raw = pipe.raw_corpus(name)
            t = mapping_summary(raw, load_mapping(spec.mapping), category=spec.category,
                                dimensions=list(spec.dimensions) or None, corpus_key=name)
            frames.append(t.assign(corpus=name, mapping=Path(spec.mapping).stem))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def partitions(pool: Pool, mc) -> list[np.ndarray]:
    """The corpora's own partitions, or ``mc.folds`` speaker-independent folds."""
    if mc.folds:
        return pool.fold_partitions(mc.folds, mc.seed, mc.devel_share)
    return [pool.given_partitions()]


def check(pool: Pool, splits: list[tuple[int, Split]], mc) -> None:
    """Everything the data can refuse, before any feature is extracted.

    Labels outside the classes, corpora that share no class, a training set
    without two classes, a test set that lacks a class of the label, an empty
    selection set; and the protocol invariants (no test utterance or test
    speaker in training or selection).
    """
    spk = pool.table["speaker"].to_numpy(dtype=object)
    for lab, classes in pool.labels.items():
        y = pool.y(lab)
        seen = {}
        for name in pool.corpora:
            vals = {v for v in y[pool.rows(name)] if v is not None}
            if not vals:
                raise ConfigError(f"[corpora.{name}] has no {lab!r} label; give it a mapping "
                                  f"with {lab!r} (or that label in its labels.csv)")
            unknown = sorted(vals - set(classes), key=str)
            if unknown:
                raise ConfigError(f"[corpora.{name}] {lab} values {unknown} are not among the "
                                  f"classes {classes}")
            seen[name] = vals
        common = set.intersection(*seen.values())
        if not common:
            raise ConfigError(f"the corpora share no {lab!r} class ("
                              + ", ".join(f"{n}: {sorted(v, key=str)}" for n, v in seen.items())
                              + "); check their mappings")
    has = {lab: pool.has(lab) for lab in pool.labels}
    for fold, s in splits:
        where = f"{s.protocol} '{s.name}'" + (f" (fold {fold + 1})" if mc.folds else "")
        train = set(s.train.tolist())
        train_spk = set(spk[s.train])
        for test_name, t in s.tests.items():
            if train & set(t.tolist()) or train_spk & set(spk[t]):
                raise ProtocolError(f"{where}: test speakers of {test_name!r} are in training")
            for sel_name, sel in s.selections.items():
                if set(sel.tolist()) & set(t.tolist()):
                    raise ProtocolError(f"{where}: selection set {sel_name!r} holds test "
                                        f"utterances of {test_name!r}")
        for lab, classes in pool.labels.items():
            y = pool.y(lab)
            tr = s.train[has[lab][s.train]]
            have = set(y[tr])
            if len(have) < 2:
                raise ConfigError(f"{where}: the training set has {len(tr)} {lab!r} utterances "
                                  f"of {len(have)} class(es); it needs two or more")
            for test_name, t in s.tests.items():
                tt = t[has[lab][t]]
                missing = [c for c in classes if c in have and c not in set(y[tt])]
                if missing:
                    raise ConfigError(f"{where}: test corpus {test_name!r} has no {lab!r} "
                                      f"utterance of class(es) {missing} "
                                      f"({len(tt)} labelled test utterances); UAR would "
                                      "silently average fewer classes")
            for sel_name, sel in s.selections.items():
                if not has[lab][sel].any():
                    raise ConfigError(f"{where}: selection set {sel_name!r} has no {lab!r} "
                                      "utterance")
        if not s.selections:
            raise ConfigError(f"{where}: none of the selection sets {list(mc.selection)} "
                              "exists for it (e.g. `other` needs a third corpus, or one in "
                              "selection_corpora)")


# ---------------------------------------------------------------- normalisation
def _z(X: np.ndarray, rows: np.ndarray, stats_rows: np.ndarray, out: np.ndarray) -> None:
    mu = X[stats_rows].mean(axis=0)
    sd = X[stats_rows].std(axis=0)
    sd[sd < 1e-8] = 1.0
    out[rows] = (X[rows] - mu) / sd


def normalise(X: np.ndarray, pool: Pool, level: str, train: np.ndarray,
              fallback: frozenset = frozenset()) -> np.ndarray:
    r"""Utterance vectors z-scored per speaker, per corpus, or not at all.

    ``speaker``: :math:`(x - \mu_s) / \sigma_s` over the speaker's own
    utterances, labelled or not (the utterance-level counterpart of the
    paper's speaker z-norm; Schuller et al. 2010 for cross-corpus
    functionals); speakers in ``fallback`` take their corpus' statistics.
    ``corpus``: statistics of the corpus' utterances in ``train``; a corpus
    with none there (held out) uses its own utterances, unlabelled.
    """
    if level == "none":
        return X
    from contaffect.features.sequences import Sequences

    if isinstance(X, Sequences):
        return _normalise_sequences(X, pool, level, train, fallback)
    out = np.empty_like(X, dtype=np.float64)
    in_train = np.zeros(len(pool), dtype=bool)
    in_train[train] = True
    spk = pool.table["speaker"].to_numpy(dtype=object)

    def corpus_rows(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = pool.rows(name)
        stats = rows[in_train[rows]]
        return rows, (stats if stats.size >= 2 else rows)

    if level == "corpus":
        for name in pool.corpora:
            rows, stats = corpus_rows(name)
            _z(X, rows, stats, out)
        return out
    for name in pool.corpora:
        rows, stats = corpus_rows(name)
        back = rows[np.isin(spk[rows], list(fallback))] if fallback else rows[:0]
        if back.size:
            _z(X, back, stats, out)
        for s in sorted(set(spk[rows]) - set(fallback)):
            r = rows[spk[rows] == s]
            _z(X, r, r, out)
    return out


def _normalise_sequences(X, pool: Pool, level: str, train: np.ndarray, fallback: frozenset):
    """:func:`normalise` for frame sequences: the same groups and statistics, over frames."""
    from contaffect.features.sequences import zscore_groups

    in_train = np.zeros(len(pool), dtype=bool)
    in_train[train] = True
    spk = pool.table["speaker"].to_numpy(dtype=object)
    corpus = pool.table["corpus"].to_numpy(dtype=object)
    groups = np.array([f"corpus:{c}" if level == "corpus" or s in fallback else f"speaker:{s}"
                       for s, c in zip(spk, corpus)], dtype=object)
    stats = {}
    for name in pool.corpora:
        rows = pool.rows(name)
        st = rows[in_train[rows]]
        stats[f"corpus:{name}"] = st if st.size >= 2 else rows
    return zscore_groups(X, groups, stats)


#: a corpus at least this share of whose training speakers show one class falls back whole
ONE_CLASS_SHARE = 0.5


def fallback_speakers(pool: Pool, mc, label: str, train: np.ndarray) -> frozenset:
    """Speakers that take corpus statistics under speaker z-norm.

    - any speaker with fewer than ``min_speaker_utterances`` utterances (known
      without labels);
    - training speakers whose training utterances show one class of ``label``
      only (labels of training data may be used);
    - every speaker of a corpus at least :data:`ONE_CLASS_SHARE` (half) of
      whose training speakers show one class: its test speakers' labels cannot be
      looked at, but they were recorded by the same design (a natural corpus
      with one emotion per speaker), and z-scoring them on their own would
      erase the label exactly as it would for the training speakers.

    A corpus with no training speakers (held out whole, or the 0 % point of a
    target-fraction curve) cannot be diagnosed and keeps speaker z-norm, so part
    of a curve's first step can be this switch; ``normalise = "corpus"`` is the
    choice there.
    """
    if mc.normalise != "speaker" or mc.speaker_fallback == "none":
        return frozenset()
    t = pool.table
    counts = t["speaker"].value_counts()
    few = set(counts.index[counts < mc.min_speaker_utterances])
    tr = t.iloc[train]
    tr = tr[tr[label].notna()]
    per = tr.groupby("speaker")[label].nunique()
    one = set(per.index[per < 2])
    whole: set = set()
    for name, g in tr.groupby("corpus"):
        shown = per.reindex(g["speaker"].unique())
        if len(shown) and float((shown < 2).mean()) >= ONE_CLASS_SHARE:
            whole |= set(t.loc[t["corpus"] == name, "speaker"])
    return frozenset(few | one | whole)


# ---------------------------------------------------------------- training
def balance_set(pool: Pool, label: str, train: np.ndarray, how: str, seed: int):
    """Per-corpus class balance of a training set: ``(rows, sample weights or None)``.

    ``subsample``: each corpus' classes are subsampled (seeded) to that
    corpus' minority class count, as EmoNet does per data set (seed 001);
    ``weights``: every (corpus, class) cell gets the same total weight.
    """
    if how == "none":
        return train, None
    corpus = pool.table["corpus"].to_numpy(dtype=object)[train]
    y = pool.y(label)[train]
    if how == "subsample":
        rng = np.random.default_rng([seed, 11])
        keep = []
        for name in sorted(set(corpus)):
            cells = [np.flatnonzero((corpus == name) & (y == c)) for c in sorted(set(y[corpus == name]), key=str)]
            n = min(len(c) for c in cells)
            keep += [np.sort(rng.choice(c, n, replace=False)) for c in cells]
        return np.sort(train[np.concatenate(keep)]), None
    w = np.empty(train.size)
    cells = {}
    for i, key in enumerate(zip(corpus, y)):
        cells.setdefault(key, []).append(i)
    for members in cells.values():
        w[members] = 1.0 / len(members)
    return train, w * (train.size / w.sum())


@dataclass
class _Fitted:
    params: list                 # grid points
    scores: list                 # (n_pool, K) decision scores per grid point
    models: list = field(default_factory=list)   # networks (those with embed()), else None


def _digest(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()


class _Engine:
    """Fits each (training set, normalisation, system) grid once; scores every utterance."""

    def __init__(self, pool: Pool, matrices, mc):
        self.pool, self.matrices, self.mc = pool, matrices, mc
        self.fits: dict[str, _Fitted] = {}
        self.normed: dict[str, np.ndarray] = {}

    def X(self, rep: str, train: np.ndarray, fallback: frozenset) -> tuple[np.ndarray, str]:
        mc = self.mc
        # corpus statistics (per-corpus norm, or the speaker fallback) come from the
        # training rows, so those are part of the key whenever they are used
        key = _digest(rep, mc.normalise, sorted(fallback),
                      train if mc.normalise == "corpus" or fallback else "")
        if key not in self.normed:
            from contaffect.features.sequences import Sequences

            # frame sequences are large (a copy per training set): keep only a few
            limit = 4 if isinstance(self.matrices(rep), Sequences) else 64
            if len(self.normed) > limit:
                self.normed.clear()
            self.normed[key] = normalise(self.matrices(rep), self.pool, mc.normalise, train,
                                         fallback)
        return self.normed[key], key

    def fit(self, rep, clf, label, classes, train, weights, fallback,
            target: str | None = None, keep: bool = False) -> _Fitted:
        """The grid of ``clf`` fit on ``train``; ``target`` (the split's target corpus) goes
        to classifiers that fine-tune on it (seed 001's transfer) when it is one of two or
        more training corpora, and then keys their fits; ``keep``: keep the networks."""
        from contaffect.models.classifiers import (fit_weighted, grid_of, input_kind,
                                                   make_classifier, target_aware)

        X, xkey = self.X(rep, train, fallback)
        corpora = set(self.pool.table["corpus"].to_numpy(dtype=object)[train])
        staged = target_aware(clf) and target in corpora and len(corpora) > 1
        extra = {"target_domain": target} if staged else {}
        key = _digest(xkey, clf, label, train, weights if weights is not None else "",
                      self.mc.upsample, sorted(self.mc.grids.get(clf, {}).items()),
                      sorted(extra.items()))
        if key in self.fits and keep and not any(m is not None for m in self.fits[key].models):
            del self.fits[key]                 # fitted without its networks: fit again
        if key not in self.fits:
            y = self.pool.y(label)
            Xt, yt = X[train], y[train].tolist()

            def one(params: dict):
                model = make_classifier(clf, upsample=self.mc.upsample,
                                        random_state=self.mc.seed, **params)
                fit_weighted(model, Xt, yt, weights, **extra)
                # networks are kept (a few MB each) only for their embeddings (t-SNE)
                net = model if keep and hasattr(model.steps[-1][1], "embed") else None
                return _scores(model, X, classes), net

            grid = grid_of(clf, self.mc.grids.get(clf))
            # networks seed torch's global generator inside each fit: one at a time, so
            # that the same seed gives the same numbers whatever `workers` says
            workers = 1 if input_kind(clf) == "sequence" else self.mc.workers
            with stage("multi-corpus classifiers"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = _map(one, grid, workers)
                self.fits[key] = _Fitted(grid, [o[0] for o in out], [o[1] for o in out])
        return self.fits[key]

    def refit(self, rep, clf, label, classes, rows, params, fallback, train,
              target: str | None = None) -> np.ndarray:
        from contaffect.models.classifiers import fit_weighted, make_classifier, target_aware

        X, _ = self.X(rep, train, fallback)
        model = make_classifier(clf, upsample=self.mc.upsample, random_state=self.mc.seed,
                                **params)
        extra = {"target_domain": target} if target_aware(clf) else {}
        fit_weighted(model, X[rows], self.pool.y(label)[rows].tolist(), None, **extra)
        return _scores(model, X, classes)


def _map(fn, items: list, workers: int) -> list:
    """``[fn(x) for x in items]``, on ``workers`` threads when there is more than one item.

    Each fit is deterministic and results come back in order, so the numbers do not
    depend on ``workers`` beyond BLAS rounding (one worker leaves BLAS its own threads;
    more hold it to one thread per fit, so that fits do not oversubscribe the cores).
    """
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(max_workers=min(workers, len(items))) as ex:
        return list(ex.map(fn, items))


def _scores(model, X: np.ndarray, classes) -> np.ndarray:
    S = np.asarray(model.decision_function(X), dtype=np.float64)
    fitted = list(model.classes_)
    if S.ndim == 1:
        S = np.column_stack([-S, S])
    out = np.full((X.shape[0], len(classes)), -np.inf)
    for j, c in enumerate(classes):
        if c in fitted:
            out[:, j] = S[:, fitted.index(c)]
    return out


# ---------------------------------------------------------------- the part
def preflight(pipe, cfg=None) -> tuple[Pool, pd.DataFrame, list]:
    """Pool, mapping report and every split, checked (no feature is extracted)."""
    cfg = cfg or pipe.cfg
    mc = cfg.multicorpus
    pool, mapping = build_pool(pipe, cfg)
    splits = make_splits(pool, partitions(pool, mc), mc)
    check(pool, splits, mc)
    return pool, mapping, splits


def run_multicorpus_part(pipe, cfg=None, variant: str = "main") -> MultiCorpusPart:
    """Build the pool, check every split, extract once per corpus, run every protocol.

    ``cfg`` is a variant of the pipeline's config (an ablation of ``[multicorpus]``);
    features are cached in the store, so variants share the extraction.
    """
    from contaffect.features.representations import Representations

    cfg = cfg or pipe.cfg
    mc = cfg.multicorpus
    pool, mapping, splits = preflight(pipe, cfg)
    notes = _coverage_warnings(pool, mc)

    reps = {name: Representations(pipe.corpus(name), pipe.workdir / "store",
                                  workers=cfg.features.workers, progress=pipe.progress,
                                  timer=stage, ssl=cfg.ssl, scheduler=cfg.features.scheduler)
            for name in pool.corpora}
    cache: dict[str, np.ndarray] = {}

    def matrices(rep: str):
        if rep not in cache:
            cache[rep] = stack(pool, {name: reps[name].get(rep) for name in pool.corpora})
        return cache[rep]

    for rep in mc.representations:          # extraction first, with its own progress bars
        matrices(rep)
    engine = _Engine(pool, matrices, mc)
    results, predictions = evaluate(pool, splits, matrices, mc, pipe.progress, engine)
    summary = summarise(results, predictions, pool, mc)
    emb = pd.DataFrame()
    if mc.tsne:
        with stage("multi-corpus embeddings (t-SNE)"):
            emb = embeddings(engine, pool, splits, mc)
    return MultiCorpusPart(results, summary, predictions, pool.class_counts(),
                           pool.speaker_coverage(), mapping, dict(pool.labels), notes,
                           list(pool.corpora), variant, mc.reference, emb)


def stack(pool: Pool, blocks: dict):
    """Per-corpus representations in pool order: a matrix, or frame sequences whose domain
    is the corpus' pool name and speaker its pool speaker; non-finite values set to 0."""
    from contaffect.features.sequences import Sequences

    parts = [blocks[name] for name in pool.corpora]
    if isinstance(parts[0], Sequences):
        seq = Sequences.concat(parts)
        X = Sequences(seq.arrays, pool.table["corpus"].to_numpy(dtype=object),
                      pool.table["speaker"].to_numpy(dtype=object), seq.rate,
                      layers=seq.layers)
        bad = X.zero_non_finite()
    else:
        X = np.vstack(parts)
        mask = ~np.isfinite(X)
        bad = int(mask.sum())
        X[mask] = 0.0
    if bad:
        log.warning("%d non-finite feature values set to 0", bad)
    return X


def evaluate(pool: Pool, splits: list[tuple[int, Split]], matrices, mc,
             progress: bool = False, engine: "_Engine | None" = None
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every split x label x system: fit (cached per training set), select, test.

    ``matrices(representation)`` gives the ``(len(pool), d)`` features in pool
    order. Returns the result rows and every test prediction.
    """
    from tqdm.auto import tqdm

    from contaffect.models.classifiers import systems

    engine = engine or _Engine(pool, matrices, mc)
    rows, preds = [], []
    total = len(splits) * len(pool.labels) * len(systems(mc.representations, mc.classifiers))
    bar = tqdm(total=total, desc="multi-corpus systems", unit="system", disable=not progress,
               leave=False)
    for fold, s in splits:
        for lab, classes in pool.labels.items():
            _run_split(engine, pool, mc, fold, s, lab, classes, rows, preds, bar)
    bar.close()
    return pd.DataFrame(rows), (pd.concat(preds, ignore_index=True) if preds
                                else pd.DataFrame())


def embeddings(engine, pool: Pool, splits, mc) -> pd.DataFrame:
    """Seed 000's Fig. 2: t-SNE of the pooled networks' embeddings on the pooled test set.

    For every network trained under ``pooled`` (first fold, each label, the grid
    point chosen on the first selection set), the pooled embedding (seed 000: the
    last hidden FC layer after the mean over time; seed 001: the attention
    output) of every test utterance of every corpus is mapped to 2-D by t-SNE
    (scikit-learn, perplexity 30 or less, seeded). Rows: pool index, corpus,
    class, system, x, y, and the silhouette of the embedding (not of the 2-D
    map) by corpus and by class, which says in one number what the picture
    shows: which grouping the network's representation follows.
    """
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    from contaffect.models.classifiers import systems
    from contaffect.models.embeddings import DEFAULT_INPUT as NETWORKS
    from contaffect.models.embeddings import embed

    frames = []
    pooled = [s for fold, s in splits if s.protocol == "pooled" and fold == 0]
    for s in pooled:
        test = np.sort(np.concatenate(list(s.tests.values())))
        for lab, classes in pool.labels.items():
            has = pool.has(lab)
            train = s.train[has[s.train]]
            train, weights = balance_set(pool, lab, train, mc.balance, mc.seed)
            fallback = fallback_speakers(pool, mc, lab, train)
            t = test[has[test]]
            for rep, clf in systems(mc.representations, mc.classifiers):
                if clf not in NETWORKS:          # kernel classifiers have no embedding
                    continue
                fitted = engine.fit(rep, clf, lab, classes, train, weights, fallback,
                                    s.meta.get("target"), keep=True)
                if not any(m is not None for m in fitted.models):
                    continue
                sel = next(iter(s.selections.values()))
                y = pool.y(lab)
                cls = np.asarray(classes, dtype=object)
                sel = sel[has[sel]]
                best = int(np.argmax([uar(y[sel].tolist(), cls[S[sel].argmax(1)].tolist(),
                                          labels=classes) for S in fitted.scores]))
                X, _ = engine.X(rep, train, fallback)
                Z = embed(fitted.models[best], X[t])
                corpus = pool.table["corpus"].to_numpy(dtype=object)[t]
                xy = TSNE(2, perplexity=float(min(30, max(2, (len(t) - 1) // 3))),
                          random_state=mc.seed, init="pca").fit_transform(Z)
                sil_c = float(silhouette_score(Z, corpus)) if len(set(corpus)) > 1 else np.nan
                sil_y = float(silhouette_score(Z, y[t].astype(str))) \
                    if len(set(y[t])) > 1 else np.nan
                frames.append(pd.DataFrame(dict(
                    label=lab, representation=rep, classifier=clf, index=t, corpus=corpus,
                    cls=y[t], x=xy[:, 0], y=xy[:, 1], silhouette_corpus=sil_c,
                    silhouette_class=sil_y)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _coverage_warnings(pool: Pool, mc) -> list[str]:
    out = []
    cov = pool.speaker_coverage()
    for (lab, name), g in cov.groupby(["label", "corpus"], sort=False):
        share = float((g["classes"] < 2).mean())
        if share >= ONE_CLASS_SHARE and mc.normalise == "speaker":
            then = ("where its training speakers show this, they and its test speakers "
                    "take corpus statistics (same design)" if mc.speaker_fallback == "corpus"
                    else "speaker z-norm erases the label for them")
            msg = (f"{name}: {share:.0%} of its speakers show one {lab!r} class only; {then}. "
                   "Held out whole it keeps speaker z-norm: normalise = 'corpus' is safer")
            log.warning(msg)
            out.append(msg)
    return out


def _run_split(engine, pool, mc, fold, s: Split, lab, classes, rows, preds, bar) -> None:
    from contaffect.models.classifiers import systems

    y = pool.y(lab)
    has = pool.has(lab)
    train = s.train[has[s.train]]
    train, weights = balance_set(pool, lab, train, mc.balance, mc.seed + fold)
    fallback = fallback_speakers(pool, mc, lab, train)
    sels = {k: v[has[v]] for k, v in s.selections.items()}
    tests = {k: v[has[v]] for k, v in s.tests.items()}
    cls = np.asarray(classes, dtype=object)
    spk = pool.table["speaker"].to_numpy(dtype=object)
    group = []
    target = s.meta.get("target")
    for rep, clf in systems(mc.representations, mc.classifiers):
        bar.set_postfix_str(f"{s.name}: {rep}/{clf}")
        keep = mc.tsne and s.protocol == "pooled" and fold == 0
        fitted = engine.fit(rep, clf, lab, classes, train, weights, fallback, target, keep)
        for sel_name, sel in sels.items():
            sel_uars = [uar(y[sel].tolist(), cls[S[sel].argmax(1)].tolist(), labels=classes)
                        for S in fitted.scores]
            best = int(np.argmax(sel_uars))       # first of ties: grid order
            S = fitted.scores[best]
            params = fitted.params[best]
            if mc.refit and sel_name != "other" and not sel_name.startswith("other:"):
                both = np.union1d(train, sel)
                S = engine.refit(rep, clf, lab, classes, both, params, fallback, train,
                                 target)
            for test_name, t in tests.items():
                pred = cls[S[t].argmax(1)]
                row = dict(protocol=s.protocol, split=s.name, fold=fold, label=lab,
                           selection=sel_name, test=test_name, representation=rep,
                           classifier=clf, params=_params(params),
                           select_uar=sel_uars[best], test_uar=uar(y[t].tolist(),
                                                                   pred.tolist(),
                                                                   labels=classes),
                           test_war=war(y[t].tolist(), pred.tolist()), n_test=int(t.size),
                           n_train=int(train.size),
                           train_corpora="+".join(s.meta.get("train_corpora", ())),
                           fraction=s.meta.get("fraction", np.nan),
                           target_speakers=s.meta.get("target_speakers", np.nan))
                rows.append(row)
                group.append(len(rows) - 1)
                preds.append(pd.DataFrame(dict(
                    protocol=s.protocol, split=s.name, label=lab, selection=sel_name,
                    test=test_name, representation=rep, classifier=clf, fold=fold,
                    index=t, speaker=spk[t], truth=y[t], pred=pred)))
        bar.update(1)
    # the system each selection set chooses (per test corpus): best selection UAR, first of ties
    best: dict = {}
    for i in group:
        r = rows[i]
        k = (r["selection"], r["test"])
        if k not in best or r["select_uar"] > rows[best[k]]["select_uar"] + 1e-12:
            best[k] = i
    for i in group:
        rows[i]["selected"] = i in best.values()


def _params(p: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


# ---------------------------------------------------------------- statistics
def summarise(results: pd.DataFrame, predictions: pd.DataFrame, pool: Pool, mc) -> pd.DataFrame:
    """Per system over folds: mean / sd UAR, all-fold UAR with a speaker-bootstrap interval,
    and McNemar p-values against matched training (same system, and the best matched one).

    The system chosen on each selection set appears as ``(selected)``.
    """
    from contaffect.metrics import bootstrap_uar

    if results.empty:
        return pd.DataFrame()
    sel_rows = results[results["selected"]]
    chosen = set(zip(*(sel_rows[c] for c in KEYS + ["fold"])))
    pk = predictions.copy()
    key_cols = KEYS + ["fold"]
    pk["_chosen"] = [k in chosen for k in zip(*(pk[c] for c in key_cols))]
    virtual = pk[pk["_chosen"]].assign(representation="(selected)", classifier="")
    allp = pd.concat([pk, virtual], ignore_index=True).drop(columns="_chosen")
    res_v = sel_rows.assign(representation="(selected)", classifier="",
                            params=sel_rows["representation"] + "/" + sel_rows["classifier"]
                            + " (" + sel_rows["params"] + ")")
    allr = pd.concat([results, res_v], ignore_index=True)

    preds_by = {k: g for k, g in allp.groupby(KEYS, sort=False)}
    out = []
    for k, g in allr.groupby(KEYS, sort=False):
        d = dict(zip(KEYS, k))
        classes = pool.labels[d["label"]]
        p = preds_by[k]
        row = dict(d, folds=len(g), test_uar=float(g["test_uar"].mean()),
                   test_uar_sd=float(g["test_uar"].std(ddof=1)) if len(g) > 1 else np.nan,
                   select_uar=float(g["select_uar"].mean()),
                   uar_all=uar(p["truth"].tolist(), p["pred"].tolist(), labels=classes),
                   n=len(p), test_speakers=int(p["speaker"].nunique()),
                   fraction=g["fraction"].iloc[0],
                   train_corpora=g["train_corpora"].iloc[0],
                   params="; ".join(dict.fromkeys(g["params"])))
        if mc.bootstrap:
            lo, hi = bootstrap_uar(p["truth"].tolist(), p["pred"].tolist(),
                                   p["speaker"].tolist(), labels=classes, n_boot=mc.bootstrap,
                                   seed=mc.seed)
            row.update(ci_low=lo, ci_high=hi)
        out.append(row)
    summary = pd.DataFrame(out)
    # McNemar against matched training on the same test corpus (common fold x utterance)
    matched = summary[summary["protocol"] == "matched"]
    p_same, p_best, ref_best = [], [], []
    for _, r in summary.iterrows():
        if r["protocol"] == "matched" or matched.empty:
            p_same.append(np.nan), p_best.append(np.nan), ref_best.append("")
            continue
        m = matched[(matched["label"] == r["label"]) & (matched["test"] == r["test"])
                    & (matched["selection"] == r["selection"])]
        same = m[(m["representation"] == r["representation"])
                 & (m["classifier"] == r["classifier"])]
        p_same.append(_mcnemar(preds_by, r, same.iloc[0]) if len(same) else np.nan)
        cands = m[m["representation"] != "(selected)"]
        if len(cands):
            b = cands.loc[cands["select_uar"].idxmax()]
            p_best.append(_mcnemar(preds_by, r, b))
            ref_best.append(f"{b['representation']}/{b['classifier']}")
        else:
            p_best.append(np.nan), ref_best.append("")
    summary["p_vs_matched"] = p_same
    summary["best_matched"] = ref_best
    summary["p_vs_best_matched"] = p_best
    if getattr(mc, "reference", ""):
        rep, _, clf = mc.reference.rpartition("/")
        p_ref = []
        for _, r in summary.iterrows():
            m = matched[(matched["label"] == r["label"]) & (matched["test"] == r["test"])
                        & (matched["selection"] == r["selection"])
                        & (matched["representation"] == rep) & (matched["classifier"] == clf)]
            itself = (r["protocol"] == "matched" and r["representation"] == rep
                      and r["classifier"] == clf)
            p_ref.append(_mcnemar(preds_by, r, m.iloc[0]) if len(m) and not itself else np.nan)
        summary["p_vs_reference"] = p_ref
    return summary


def _mcnemar(preds_by, a, b) -> float:
    from contaffect.metrics import mcnemar

    pa = preds_by[tuple(a[k] for k in KEYS)]
    pb = preds_by[tuple(b[k] for k in KEYS)]
    m = pa.merge(pb, on=["fold", "index"], suffixes=("_a", "_b"))
    if m.empty:
        return np.nan
    return float(mcnemar(m["truth_a"].tolist(), m["pred_a"].tolist(), m["pred_b"].tolist()).p)
