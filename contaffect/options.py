"""Typed options: each option is declared once, with its type, range or choices and default.

A config section is a frozen dataclass whose fields are declared with
:func:`option`::

    @dataclass(frozen=True)
    class TrainConfig:
        epochs: int = option(5, "Epochs over all training windows.", Int(min=1))

:func:`build` turns a parsed TOML table (or a dict built from command-line
flags) into an instance, checking every key at every depth: unknown keys get
a "did you mean", values are checked against their type and range, choices
come from :class:`~contaffect.registry.Registry` objects that sit next to the
code implementing them. Every failure is a one-line
:class:`~contaffect.errors.ConfigError` that names the source, the key path
and what was expected. :func:`reference` renders the same declarations as
the config reference of the README, so documentation cannot drift.

This module imports nothing heavy (no numpy, no torch): loading a config is
cheap and fails fast.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import importlib.util
import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from contaffect.errors import ConfigError
from contaffect.registry import Registry, suggest


class Invalid(Exception):
    """A value that does not fit its declaration (``path``: where; ``message``: what)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path, self.message = path, message


@dataclass
class Context:
    """What checks may need: the folder relative paths are resolved against."""

    base_dir: Path | None = None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# ---------------------------------------------------------------- types
class Type:
    """A checker: :meth:`check` returns the (normalised) value or raises :class:`Invalid`."""

    def check(self, value: Any, path: str, ctx: Context) -> Any:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def fail(self, value: Any, path: str, extra: str = "") -> Invalid:
        return Invalid(path, f"expected {self.describe()}, got {_show(value)}{extra}")


def _range(lo, hi, lo_open=False, hi_open=False) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


@dataclass(frozen=True)
class Int(Type):
    """An integer (not a bool, not a float) within ``[min, max]``."""

    min: int | None = None
    max: int | None = None

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(value, path)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise self.fail(value, path)
        return value

    def describe(self):
        r = _range(self.min, self.max)
        return "an integer" + (f" {r}" if r else "")


@dataclass(frozen=True)
class Float(Type):
    """A finite number within its range (integers are accepted and converted)."""

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(value, path)
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(value, path)
        if self.min is not None and (value < self.min or (self.min_open and value == self.min)):
            raise self.fail(value, path)
        if self.max is not None and (value > self.max or (self.max_open and value == self.max)):
            raise self.fail(value, path)
        return value

    def describe(self):
        r = _range(self.min, self.max, self.min_open, self.max_open)
        return "a finite number" + (f" {r}" if r else "")


@dataclass(frozen=True)
class Bool(Type):
    """``true`` or ``false``."""

    def check(self, value, path, ctx):
        if not isinstance(value, bool):
            raise self.fail(value, path)
        return value

    def describe(self):
        return "true or false"


@dataclass(frozen=True)
class Str(Type):
    """A string (optionally non-empty)."""

    nonempty: bool = False

    def check(self, value, path, ctx):
        if not isinstance(value, str) or (self.nonempty and not value.strip()):
            raise self.fail(value, path)
        return value

    def describe(self):
        return "a non-empty string" if self.nonempty else "a string"


@dataclass(frozen=True)
class Choice(Type):
    """One of a fixed tuple of names, or of a registry's names (read at check time)."""

    source: Any
    extra: tuple = ()

    def names(self) -> list[str]:
        src = self.source
        if isinstance(src, str):                 # "module:attr", imported on first check
            module, _, attr = src.partition(":")
            src = getattr(importlib.import_module(module), attr)
        names = src.names() if isinstance(src, Registry) else list(src() if callable(src) else src)
        return names + [e for e in self.extra if e not in names]

    def check(self, value, path, ctx):
        names = self.names()
        if not isinstance(value, str):
            raise Invalid(path, f"expected one of {', '.join(names)}, got {_show(value)}")
        if value not in names:
            raise Invalid(path, f"unknown value {value!r}{suggest(value, names)}")
        return value

    def describe(self):
        return "one of " + ", ".join(f"`{n}`" for n in self.names())


@dataclass(frozen=True)
class Pattern(Type):
    """A string accepted by a predicate, e.g. ``file:<name>`` or ``best:N`` forms."""

    accepts: Callable[[str], bool]
    text: str | Callable[[], str]

    def check(self, value, path, ctx):
        if not isinstance(value, str) or not self.accepts(value):
            raise self.fail(value, path)
        return value

    def describe(self):
        return self.text() if callable(self.text) else self.text


@dataclass(frozen=True)
class PathStr(Type):
    """A file or folder path; relative paths are resolved against the config's folder.

    ``must_exist`` is checked at load ("file" or "dir"), so a run never starts
    on a path that is not there.
    """

    must_exist: str | None = None

    def check(self, value, path, ctx):
        if not isinstance(value, str) or not value:
            raise self.fail(value, path)
        p = Path(value).expanduser()
        if not p.is_absolute() and ctx.base_dir is not None:
            p = (ctx.base_dir / p)
        p = p.resolve()
        if self.must_exist == "dir" and not p.is_dir():
            raise Invalid(path, f"folder {p} does not exist")
        if self.must_exist == "file" and not p.is_file():
            raise Invalid(path, f"file {p} does not exist")
        return str(p)

    def describe(self):
        what = {"dir": "an existing folder", "file": "an existing file"}.get(self.must_exist, "a")
        return f"{what} path" if self.must_exist else "a path"


@dataclass(frozen=True)
class ListOf(Type):
    """A list (a tuple after checking) of items of one type."""

    item: Type
    min_len: int = 0
    max_len: int | None = None
    unique: bool = False

    def check(self, value, path, ctx):
        if not isinstance(value, (list, tuple)):
            hint = f" (write [{value!r}])" if isinstance(value, str) else ""
            raise self.fail(value, path, hint)
        out = tuple(self.item.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value))
        if len(out) < self.min_len or (self.max_len is not None and len(out) > self.max_len):
            raise self.fail(value, path)
        if self.unique and len(set(map(repr, out))) < len(out):
            raise Invalid(path, f"entries must differ, got {_show(list(value))}")
        return out

    def describe(self):
        n = ""
        if self.min_len and self.max_len == self.min_len:
            n = f" of exactly {self.min_len}"
        elif self.min_len:
            n = f" of {self.min_len} or more"
        return f"a list{n} ({self.item.describe()})"


@dataclass(frozen=True)
class MapOf(Type):
    """A table whose keys are checked by ``keys`` (names get "did you mean") and values by ``value``."""

    value: Type
    keys: Type = Str(nonempty=True)
    min_len: int = 0

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            raise self.fail(value, path)
        out = {}
        for k, v in value.items():
            try:
                k2 = self.keys.check(k, _join(path, k), ctx)
            except Invalid as exc:
                if isinstance(self.keys, Choice) and isinstance(k, str):
                    raise Invalid(_join(path, k),
                                  f"unknown key {k!r}{suggest(k, self.keys.names())}") from None
                raise exc
            out[k2] = self.value.check(v, _join(path, k), ctx)
        if len(out) < self.min_len:
            raise self.fail(value, path)
        return out

    def describe(self):
        keys = "" if isinstance(self.keys, Str) else f" keyed by {self.keys.describe()}"
        n = f" of {self.min_len} or more entries" if self.min_len else ""
        return f"a table{n}{keys} of {self.value.describe()}"


@dataclass(frozen=True)
class OneOf(Type):
    """The first of several types that accepts the value."""

    options: tuple

    def check(self, value, path, ctx):
        errors = []
        for t in self.options:
            try:
                return t.check(value, path, ctx)
            except Invalid as exc:
                errors.append(exc)
        # a value of the right shape gets the specific message (e.g. an unknown key inside)
        for t, exc in zip(self.options, errors):
            if exc.path != path or (isinstance(t, (MapOf, Section)) and isinstance(value, dict)) \
                    or (isinstance(t, ListOf) and isinstance(value, (list, tuple))):
                raise exc
        raise self.fail(value, path)

    def describe(self):
        return " or ".join(t.describe() for t in self.options)


@dataclass(frozen=True)
class Section(Type):
    """A nested typed table (another dataclass declared with :func:`option`)."""

    cls: type

    def check(self, value, path, ctx):
        return build(self.cls, value, path, ctx)

    def describe(self):
        return f"a table (see `{self.cls.__name__}`)"


@dataclass(frozen=True)
class Params(Type):
    """Keyword arguments of a class, checked against its ``__init__`` signature.

    The signature is read from the source with :mod:`ast` (the module is not
    imported, so checking BoAW or autoencoder options does not import torch);
    each value must have the type of the parameter's default.
    """

    target: str                       # "package.module:Class"
    exclude: tuple = ("random_state", "progress")

    def signature(self) -> dict[str, Any]:
        return _init_defaults(self.target, self.exclude)

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            raise self.fail(value, path)
        sig = self.signature()
        out = {}
        for k, v in value.items():
            where = _join(path, k)
            if k not in sig:
                raise Invalid(where, f"unknown key {k!r}{suggest(k, list(sig))}")
            out[k] = _like(sig[k]).check(v, where, ctx)
        return out

    def describe(self):
        return f"a table of `{self.target.split(':')[1]}` parameters"


def _like(default: Any) -> Type:
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int()
    if isinstance(default, float):
        return Float()
    if isinstance(default, str):
        return Str()
    if isinstance(default, (tuple, list)):
        item = _like(default[0]) if default else Any_()
        return ListOf(item)
    return Any_()


@dataclass(frozen=True)
class Any_(Type):
    """A scalar or list of scalars (for free-form grids)."""

    def check(self, value, path, ctx):
        if isinstance(value, dict):
            raise self.fail(value, path)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(value, path)
        return tuple(value) if isinstance(value, list) else value

    def describe(self):
        return "a value"


_SIGNATURES: dict[tuple, dict] = {}


def _init_defaults(target: str, exclude: Sequence[str]) -> dict[str, Any]:
    key = (target, tuple(exclude))
    if key not in _SIGNATURES:
        module, _, cls = target.partition(":")
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:  # pragma: no cover
            raise ConfigError(f"cannot find module {module}")
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        out: dict[str, Any] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == cls:
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        args = item.args.args[1:] + item.args.kwonlyargs
                        defaults = ([None] * (len(item.args.args) - 1 - len(item.args.defaults))
                                    + list(item.args.defaults) + list(item.args.kw_defaults))
                        for a, d in zip(args, defaults):
                            if a.arg in exclude:
                                continue
                            try:
                                out[a.arg] = ast.literal_eval(d) if d is not None else None
                            except ValueError:
                                out[a.arg] = None
        _SIGNATURES[key] = out
    return _SIGNATURES[key]


# ---------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Option:
    """What :func:`option` attaches to a dataclass field."""

    type: Type
    doc: str
    key: str | None = None        # config key when it differs from the field name
    config: bool = True           # False: set by the program, not a config key


def option(default: Any, doc: str, type: Type, *, key: str | None = None,
           config: bool = True) -> Any:
    """Declare a typed option (a dataclass field with its type, range or choices and doc)."""
    meta = {"option": Option(type, doc, key, config)}
    if isinstance(default, (dict, list, set)):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return field(default=default, metadata=meta)


def options_of(cls: type) -> list[tuple[dataclasses.Field, Option]]:
    """The declared options of a section class, in declaration order."""
    out = []
    for f in fields(cls):
        opt = f.metadata.get("option")
        if opt is not None:
            out.append((f, opt))
    return out


def config_keys(cls: type) -> dict[str, tuple[dataclasses.Field, Option]]:
    """Config key -> (field, option) for the options that can be set from a config."""
    return {(opt.key or f.name): (f, opt) for f, opt in options_of(cls) if opt.config}


def build(cls: type, data: Any, path: str = "", ctx: Context | None = None):
    """An instance of ``cls`` from a table, checking every key (see the module docstring).

    Raises :class:`Invalid`; :func:`load` and the CLI turn it into a one-line
    :class:`~contaffect.errors.ConfigError`.
    """
    ctx = ctx or Context()
    if not isinstance(data, dict):
        raise Invalid(path, f"expected a table, got {_show(data)}")
    keys = config_keys(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in keys:
            raise Invalid(_join(path, key), f"unknown key {key!r}{suggest(key, list(keys))}")
        f, opt = keys[key]
        kwargs[f.name] = opt.type.check(value, _join(path, key), ctx)
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ConfigError as exc:
            raise Invalid(path, str(exc)) from None
    return obj


def check_value(cls: type, name: str, value: Any, source: str) -> Any:
    """Check one value against a declared option (for command-line flags); ConfigError if bad."""
    for f, opt in options_of(cls):
        if f.name == name:
            try:
                return opt.type.check(value, "", Context())
            except Invalid as exc:
                raise ConfigError(f"{source}: {exc.message}") from None
    raise KeyError(name)


def default_of(cls: type, name: str) -> Any:
    """The declared default of one option."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
    raise KeyError(name)


# ---------------------------------------------------------------- reference
def _fmt_default(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return "(its section's defaults)"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(_fmt_default(v).strip("`") for v in value) + "]`"
    if isinstance(value, dict):
        if not value:
            return "`{}`"
        return "`{ " + ", ".join(f"{k} = {_fmt_default(v).strip('`')}"
                                 for k, v in value.items()) + " }`"
    return f"`{value}`"


def reference(sections: Iterable[tuple[str, type]]) -> str:
    """A Markdown reference of sections: every option with its type, default and meaning."""
    lines = []
    for title, cls in sections:
        lines += [f"#### `{title}`", ""]
        doc = (cls.__doc__ or "").strip().splitlines()
        if doc:
            lines += [doc[0], ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key, (f, opt) in config_keys(cls).items():
            default = default_of(cls, f.name)
            text = " ".join(opt.doc.split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {opt.type.describe().replace('|', '/')} | "
                         f"{_fmt_default(default)} | {text} |")
        lines.append("")
    return "\n".join(lines)
