"""Utterance representations by name: one vector per utterance of a corpus.

:data:`REPRESENTATIONS` is the registry that ``[utterance] representations``,
the command line and the docs read. Each entry is a builder
``(Representations, name) -> (n_utterances, d)`` and says whether it learns
from data (``learns=True``: BoAW codebooks and autoencoders are fit on the
training partition only, and a system built on them does not transfer to
another corpus as it is). ``a+b`` concatenates representations
(feature-level fusion); a name ending in ``:`` is a prefix (``file:<name>``).

``ssl:<model>`` gives the frames of a self-supervised model (a key of ``[ssl]
models``) and ``ssl_mean:<model>`` their mean over time (seed 004).

Frame-level representations (``sequence=True``: log-Mel filterbanks, SSL frames) give a
:class:`~contaffect.features.sequences.Sequences` set instead of a matrix,
one frame matrix per utterance, for the neural classifiers of seeds 000 and
001; they do not concatenate with ``+``. ``embed:<classifier>`` is the pooled
embedding of such a network trained on the training partition, a vector
representation for the kernel classifiers.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from contaffect.errors import ConfigError
from contaffect.features.ssl_config import SSLConfig
from contaffect.registry import Registry

if TYPE_CHECKING:
    from contaffect.corpus.model import Corpus


class _Representations(Registry):
    def _find(self, name: str):
        if name in self:
            return self.entry(name)
        for key in self.names():
            if key.endswith(":") and name.startswith(key) and len(name) > len(key):
                return self.entry(key)
        return self.entry(name)          # raises the "did you mean" error

    def accepts(self, name: str) -> bool:
        """True for a registered name or a prefixed form (``file:<name>``)."""
        try:
            self._find(name)
        except ConfigError:
            return False
        return True

    def learns(self, name: str) -> bool:
        """True if any part of ``a+b`` is fit on training data."""
        return any(dict(self._find(p).extra).get("learns", False) for p in name.split("+"))

    def builder(self, name: str):
        return self._find(name).load()

    def is_sequence(self, name: str) -> bool:
        """True if the representation gives frame sequences, not one vector per utterance."""
        return any(dict(self._find(p).extra).get("sequence", False) for p in name.split("+"))


#: Utterance representations (see the module docstring).
REPRESENTATIONS = _Representations("representation")


def _functionals(feature_set: str):
    def build(reps: "Representations", name: str) -> np.ndarray:
        from contaffect.features.extract import extract_corpus, load_corpus_features

        extract_corpus(reps.corpus, reps.store, feature_set, workers=reps.workers,
                       progress=reps.progress, scheduler=reps.scheduler)
        frames = load_corpus_features(reps.corpus, reps.store, feature_set)
        return np.vstack([frames[i].values.reshape(1, -1) for i in reps.ids]).astype(np.float64)
    return build


REPRESENTATIONS.add("compare_func", _functionals("compare2016_func"),
                    "ComParE 2016 functionals (6373)", learns=False)
REPRESENTATIONS.add("egemaps", _functionals("egemaps_v02_func"),
                    "eGeMAPS v02 functionals (88)", learns=False)
REPRESENTATIONS.add("gemaps", _functionals("gemaps_v01b_func"),
                    "GeMAPS v01b functionals (62)", learns=False)


def _sequences(reps: "Representations", feature_set):
    """A store feature set's frames of every utterance as :class:`Sequences` (extracted
    once, cached in the store); stacked SSL layers travel as ``layers``."""
    from contaffect.features.extract import extract_corpus, load_corpus_features
    from contaffect.features.sequences import Sequences
    from contaffect.features.smile import get_feature_set

    fs = get_feature_set(feature_set, reps.ssl) if isinstance(feature_set, str) else feature_set
    extract_corpus(reps.corpus, reps.store, fs, workers=reps.workers, progress=reps.progress,
                   scheduler=reps.scheduler)
    frames = load_corpus_features(reps.corpus, reps.store, fs)
    return Sequences([frames[i].values for i in reps.ids], [reps.corpus.name] * len(reps.ids),
                     [r.speaker for r in reps.corpus], 1.0 / fs.hop,
                     layers=int(fs.options.get("n_layers", 1)))


def _frames(feature_set: str):
    return lambda reps, name: _sequences(reps, feature_set)


REPRESENTATIONS.add("logmel40_kaldi", _frames("logmel40_kaldi"),
                    "frames: 40 Kaldi-style log-Mel bands, 10 ms, per-utterance CMVN (seed 000)",
                    learns=False, sequence=True)
REPRESENTATIONS.add("logmel64_emonet", _frames("logmel64_emonet"),
                    "frames: 64 EmoNet-style log-Mel bands, FFT 512, hop 256 (seed 001)",
                    learns=False, sequence=True)


@REPRESENTATIONS.register("ssl:", "`ssl:<model>`: frames of a self-supervised model (a key "
                                  "of `[ssl] models`), 50 Hz, layers as `[ssl]` says (seed 004)",
                          learns=False, sequence=True, placeholder="<model>")
def _ssl_frames(reps: "Representations", name: str):
    return _sequences(reps, name)


@REPRESENTATIONS.register("ssl_mean:", "`ssl_mean:<model>`: the mean over time of `ssl:<model>` "
                                       "frames, one vector per utterance (seed 004's pooling)",
                          learns=False, placeholder="<model>")
def _ssl_mean(reps: "Representations", name: str) -> np.ndarray:
    seqs = reps.get("ssl:" + name.partition(":")[2])
    return np.vstack([a.mean(0, dtype=np.float64) for a in seqs.arrays])


# the embedding needs a trained network, i.e. the models layer: the entry names its
# builder by dotted path, resolved on first use, so this module imports nothing above it
REPRESENTATIONS.add("embed:", "contaffect.models.embeddings:embed_representation",
                    "`embed:<classifier>`: pooled embedding of a neural classifier (lstm, cnn, "
                    "cnn_lstm, resnet*, dbn) trained on train with its default input",
                    learns=True, placeholder="<network>")


@REPRESENTATIONS.register("boaw", "bag-of-audio-words on ComParE LLDs, codebook fit on train "
                                  "(openXBOW's recipe)", learns=True)
def _boaw(reps: "Representations", name: str) -> np.ndarray:
    from contaffect.features.boaw import BagOfAudioWords

    frames = reps.lld()
    names = frames[reps.ids[0]].names
    bag = BagOfAudioWords(**{"random_state": reps.random_state, **reps.options.get("boaw", {})})
    bag.fit([frames[i].values for i in reps.train_ids()], names=names)
    if reps.out:
        bag.save(reps.out / "boaw_codebook.npz")
    return bag.transform([frames[i].values for i in reps.ids])


@REPRESENTATIONS.register("audeep", "recurrent autoencoder features on mel spectrograms, fit "
                                    "on train (auDeep's recipe)", learns=True)
def _audeep(reps: "Representations", name: str) -> np.ndarray:
    from contaffect.features.audeep import RecurrentAutoencoder
    from contaffect.features.audio import read_audio

    audio = {r.id: read_audio(r.audio)[0] for r in reps.corpus}
    ae = RecurrentAutoencoder(**{"random_state": reps.random_state, "progress": reps.progress,
                                 **reps.options.get("audeep", {})})
    ae.fit([audio[i] for i in reps.train_ids()])
    if reps.out:
        ae.save(reps.out / "audeep_autoencoders.pt")
    return ae.transform([audio[i] for i in reps.ids])


@REPRESENTATIONS.register("file:", "`file:<name>`: the challenge's own feature file (ARFF / "
                                   "CSV in the package's features/ folder)", learns=False,
                          placeholder="<feature file>")
def _file(reps: "Representations", name: str) -> np.ndarray:
    from contaffect.corpus.compare import load_baseline_features

    if reps.corpus.root is None:
        raise ConfigError(f"{name}: corpus {reps.corpus.name!r} has no folder")
    frame = load_baseline_features(reps.corpus.root, name[5:])
    missing = [i for i in reps.ids if i not in frame.index]
    if missing:
        raise ConfigError(f"{name} lacks {len(missing)} recording(s), e.g. {missing[:3]}")
    return frame.loc[reps.ids].select_dtypes("number").to_numpy(np.float64)


def concatenate(*blocks: np.ndarray) -> np.ndarray:
    """Feature-level fusion: the blocks side by side (same utterances, same order)."""
    from contaffect.features.sequences import Sequences

    if any(isinstance(b, Sequences) for b in blocks):
        raise ConfigError("frame-sequence representations (log-Mel) do not concatenate with "
                          "`+`; list them as representations of their own")
    n = {b.shape[0] for b in blocks}
    if len(n) != 1:
        raise ConfigError(f"feature blocks have different numbers of rows: {sorted(n)}")
    return np.hstack([np.asarray(b, dtype=np.float64) for b in blocks])


@dataclass
class Representations:
    """Builds and caches representation matrices of one corpus.

    Parameters
    ----------
    corpus
        Categorical corpus with ``train`` (and ``devel``, ``test``) partitions.
    store
        Feature store folder.
    out
        Where fitted codebooks / autoencoders are saved.
    options
        Representation name -> keyword arguments of its estimator
        (``{"boaw": {...}, "audeep": {...}}``).
    random_state, workers, progress
        Seed of learnt representations; extraction settings.
    scheduler
        ``[features] scheduler``: ``""`` extracts on ``workers`` local
        threads, a Dask scheduler address or file on that cluster.
    ssl
        The ``[ssl]`` options (models and layers) of ``ssl:`` / ``ssl_mean:``.
    timer
        ``timer(stage name)``: a context manager charged with the build time.
    """

    corpus: Corpus
    store: Path
    out: Path | None = None
    options: dict = field(default_factory=dict)
    random_state: int = 0
    workers: int = 1
    progress: bool = True
    timer: Callable[[str], object] = lambda name: nullcontext()
    ssl: SSLConfig | None = None
    scheduler: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.corpus]

    def train_ids(self) -> list[str]:
        ids = [r.id for r in self.corpus if r.partition == "train"]
        if not ids:
            raise ConfigError(f"corpus {self.corpus.name!r} has no 'train' partition to fit "
                              "learnt representations on")
        return ids

    def get(self, name: str) -> np.ndarray:
        """``(n_recordings, d)`` in corpus order; ``a+b`` concatenates."""
        if "+" in name:
            return concatenate(*(self.get(p) for p in name.split("+")))
        if name not in self._cache:
            with self.timer(f"utterance features ({name})"):
                self._cache[name] = REPRESENTATIONS.builder(name)(self, name)
        return self._cache[name]

    def lld(self) -> dict:
        """ComParE LLD frames of every recording (extracted once, cached in the store)."""
        from contaffect.features.extract import extract_corpus, load_corpus_features

        extract_corpus(self.corpus, self.store, "compare2016_lld", workers=self.workers,
                       progress=self.progress, scheduler=self.scheduler)
        return load_corpus_features(self.corpus, self.store, "compare2016_lld")
