"""Multi-corpus protocols as splits of a :class:`~contaffect.experiment.pool.Pool`.

A protocol is a function ``(pool, partitions, options) -> [Split]`` registered
in :data:`MC_PROTOCOLS`; the config, the command line and the docs read the
registry. A :class:`Split` names the rows to train on, the candidate
selection sets (hyper-parameters and the system are chosen on one of them)
and the test sets. Splits never look at labels; the runner filters rows per
label and checks that no test row or test speaker is in training or
selection.

- ``matched``: train and test on the same corpus (its train / test speakers);
- ``pooled``: the union of every corpus' training speakers, tested on each
  corpus' test speakers (seed 004's "extended" training; seed 000's
  aggregated training);
- ``loco``: leave one corpus out: train on all others, test on every speaker
  of the held-out one (seed 003);
- ``transfer``: train on A, test on every speaker of C (seed 002's protocol for
  utterance systems), selecting in-domain (A's devel), on a third corpus B
  whole, or on the pooled devel speakers of every corpus but C;
- ``target_fraction``: the other corpora's training speakers plus a seeded,
  speaker-wise fraction of the target's, tested on the target's test speakers,
  with matched training beside it (seed 003, Sec. 4.3).

Selection sets: ``in_domain`` is the devel speakers of the training corpora;
``pooled`` the devel speakers of every corpus except the tested one;
``other:<B>`` every utterance of a corpus B that is neither trained on nor
tested (a protocol corpus, or one of ``selection_corpora``, which only ever
serve this way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contaffect.registry import Registry

#: Multi-corpus protocols (the ``[multicorpus] protocols`` choices).
MC_PROTOCOLS = Registry("multi-corpus protocol")


@dataclass(frozen=True)
class Split:
    """One training set, its candidate selection sets and its test sets (pool indices)."""

    protocol: str
    name: str
    train: np.ndarray
    selections: dict = field(default_factory=dict)     # selection name -> indices
    tests: dict = field(default_factory=dict)          # tested corpus -> indices
    meta: dict = field(default_factory=dict)           # sources, target, fraction, ...


def _part(pool, part: np.ndarray, corpora, which) -> np.ndarray:
    which = {which} if isinstance(which, str) else set(which)
    idx = [pool.rows(c)[np.isin(part[pool.rows(c)], list(which))] for c in corpora]
    return np.sort(np.concatenate(idx)) if idx else np.empty(0, dtype=int)


def _selections(pool, part, train_corpora, tested, wanted) -> dict:
    out = {}
    if "in_domain" in wanted:
        out["in_domain"] = _part(pool, part, train_corpora, "devel")
    if "pooled" in wanted:
        out["pooled"] = _part(pool, part, [c for c in pool.protocol_corpora if c not in tested],
                              "devel")
    if "other" in wanted:
        for b in pool.corpora:
            if b not in train_corpora and b not in tested:
                out[f"other:{b}"] = pool.rows(b)
    return out


@MC_PROTOCOLS.register("matched", "train and test on the same corpus (its speaker-independent "
                                  "partitions)")
def matched(pool, part, opts) -> list[Split]:
    return [Split("matched", f"matched {c}", _part(pool, part, [c], "train"),
                  _selections(pool, part, [c], [c], opts.selection),
                  {c: _part(pool, part, [c], "test")}, dict(train_corpora=(c,), target=c))
            for c in pool.protocol_corpora]


@MC_PROTOCOLS.register("pooled", "train on every corpus' training speakers, test on each "
                                 "corpus' test speakers (seed 004's extended training)")
def pooled(pool, part, opts) -> list[Split]:
    cs = list(pool.protocol_corpora)
    sel = _selections(pool, part, cs, [], opts.selection)
    return [Split("pooled", "pooled", _part(pool, part, cs, "train"), sel,
                  {c: _part(pool, part, [c], "test") for c in cs},
                  dict(train_corpora=tuple(cs)))]


@MC_PROTOCOLS.register("loco", "leave one corpus out: train on the others, test on every "
                               "speaker of the held-out one (seed 003)")
def loco(pool, part, opts) -> list[Split]:
    out = []
    for h in pool.protocol_corpora:
        others = [c for c in pool.protocol_corpora if c != h]
        out.append(Split("loco", f"without {h}", _part(pool, part, others, "train"),
                         _selections(pool, part, others, [h], opts.selection),
                         {h: pool.rows(h)}, dict(train_corpora=tuple(others), target=h)))
    return out


@MC_PROTOCOLS.register("transfer", "train on A, test on every speaker of C; select in-domain, "
                                   "on a third corpus, or on the pooled devel speakers")
def transfer(pool, part, opts) -> list[Split]:
    out = []
    for a in pool.protocol_corpora:
        for c in pool.protocol_corpora:
            if a != c:
                out.append(Split("transfer", f"{a} -> {c}", _part(pool, part, [a], "train"),
                                 _selections(pool, part, [a], [c], opts.selection),
                                 {c: pool.rows(c)}, dict(train_corpora=(a,), target=c)))
    return out


@MC_PROTOCOLS.register("target_fraction", "the other corpora plus 0-80 % of the target's "
                                          "training speakers (seeded), tested on its test "
                                          "speakers, beside matched training (seed 003)")
def target_fraction(pool, part, opts) -> list[Split]:
    out = []
    targets = list(opts.fraction_targets) or list(pool.protocol_corpora)
    for ti, t in enumerate(pool.protocol_corpora):
        if t not in targets:
            continue
        sources = [c for c in pool.protocol_corpora if c != t]
        base = _part(pool, part, sources, "train")
        t_train = _part(pool, part, [t], "train")
        spk = pool.table["speaker"].to_numpy(dtype=object)
        speakers = sorted(set(spk[t_train]))
        # one seeded order per target: a larger fraction adds speakers to a smaller one's
        order = [speakers[i] for i in np.random.default_rng([opts.seed, ti, 3]).permutation(
            len(speakers))]
        test = {t: _part(pool, part, [t], "test")}
        for f in opts.fractions:
            chosen = set(order[:int(round(f * len(order)))])
            train = np.sort(np.concatenate([base, t_train[np.isin(spk[t_train], list(chosen))]]))
            sel = _selections(pool, part, sources, [t], opts.selection)
            out.append(Split("target_fraction", f"{'+'.join(sources)} + {f:.0%} {t}", train, sel,
                             test, dict(train_corpora=tuple(sources) + ((t,) if chosen else ()),
                                        target=t, fraction=float(f),
                                        target_speakers=len(chosen))))
        out.append(Split("target_fraction", f"matched {t}", t_train,
                         _selections(pool, part, [t], [t], opts.selection), test,
                         dict(train_corpora=(t,), target=t, fraction=None)))
    return out


def make_splits(pool, partitions: list[np.ndarray], opts) -> list[tuple[int, Split]]:
    """Every protocol's splits for every fold: ``[(fold, split)]``."""
    out = []
    for fold, part in enumerate(partitions):
        for name in opts.protocols:
            out.extend((fold, s) for s in MC_PROTOCOLS.get(name)(pool, part, opts))
    return out
