"""Overrides: change any setting of an experiment's profile for one run of it, without editing the
shared definition, as a *variant* with a record and checkpoints of its own.

An override is ``key = value``; the keys are

- ``train.<field>``: a training setting (:class:`~qornn.train.TrainConfig`), for every run;
- ``task.<option>``: a task option (the task's constructor), ``task``: the task itself;
- ``<run>.<option>`` (or ``runs.<run>.<option>``): a model option of one run (``qornn list
  --models``), ``<run>.model``: its model;
- a bare ``<name>``: the training setting, else the task option, else the model option of that name,
  the last for every run whose model takes it (``hidden_size=32`` resizes every trained run, not the
  post-training-quantization runs, which follow their source).

From the command line, ``qornn run copy --profile smoke --set hidden_size=32 --set hadamrnn.bits=2``;
from papermill, ``-p overrides '{"hidden_size": 32, "runs": {"hadamrnn": {"bits": 2}}}'`` (a dict, or
its JSON / YAML text; nested dicts flatten to dotted keys). An unknown key or a bad value is an error
naming it. The variant's name is made from the overrides, so the same overrides find the same record
and resume the same checkpoints; its records never replace the profile's own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["parse_scalar", "parse_assignment", "parse_overrides", "apply_overrides", "variant_name",
           "record_variant", "command_options"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.,=+-]{1,80}$")


def parse_scalar(text: str) -> Any:
    """A value written on a command line (``--set KEY=VALUE``, ``--grid``, the notebook runner's
    ``-p KEY=VALUE``) as a scalar, the same way for all of them: a number as an int or float (also
    ``1e-3`` and ``1e-05``, which YAML 1.1 reads as text), ``True`` / ``true`` / ``False`` / ``false``
    as a bool, ``None`` (as ``qornn list --models`` prints it), ``null`` or ``~`` as None, and any
    other text as itself (YAML quotes removed). YAML 1.1's other booleans (``yes``, ``no``, ``on``,
    ``off``, ``TRUE``) stay text, so a boolean setting refuses them by name rather than reading a
    typo's neighbour as a bool, and so do its other readings (``1:30``, ``0x10``, ``.inf``). A list
    or mapping is a ValueError: one value is expected; so is a number that is not finite (``1e999``
    reads as inf) or an int beyond 64 bits (:func:`_check_number`)."""
    text = text.strip()
    if text in ("True", "true", "False", "false"):
        return text in ("True", "true")
    if text in ("None", "null", "~"):
        return None
    if _NUMBER.fullmatch(text):
        return _check_number(int(text) if _INTEGER.fullmatch(text) else float(text), text)
    if text[:1] in ("[", "{"):
        raise ValueError(f"a single value is expected, got {text!r}")
    if text[:1] in ("'", '"'):  # a quoted string: its quotes removed
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return value if isinstance(value, str) else text
    # anything else is its own text: not YAML 1.1's readings of 1:30 (90), 0x10, .inf, tags or anchors
    return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"hadamrnn.bits=2"`` -> ``("hadamrnn.bits", 2)``: the value read by :func:`parse_scalar`
    (``2``, ``0.5``, ``1e-3``, ``true``, ``null``, ``relu``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not all(part.isidentifier() or re.fullmatch(r"[A-Za-z0-9_-]+", part)
                                     for part in key.split(".")):
        raise ValueError(f"an override is KEY=VALUE (e.g. hidden_size=32 or hadamrnn.bits=2), got {text!r}")
    try:
        return key, parse_scalar(raw)
    except ValueError as err:
        raise ValueError(f"override {key}: {err}") from None


#: the largest int a setting takes: torch's sizes and indices are 64-bit, and a larger one fails deep
#: in training with an overflow rather than at the command line
MAX_INT = 2**63 - 1


def _check_number(value: Any, text: object = None) -> Any:
    """``value`` itself, or a ValueError naming it (as ``text``, how it was written) when it is a
    float that is not finite or an int beyond :data:`MAX_INT`. An infinite or NaN setting would
    train, then be written into the record as ``Infinity`` or ``NaN``, which no JSON reader takes:
    the record could never be read again."""
    shown = repr(text if text is not None else value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{shown} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ValueError(f"{shown} is beyond the largest int a setting takes (2**63 - 1)")
    return value


# digits may be grouped by underscores, as Python reads them (1_000)
_DIGITS = r"[0-9](?:_?[0-9])*"
_INTEGER = re.compile(rf"[+-]?{_DIGITS}")
_NUMBER = re.compile(rf"[+-]?({_DIGITS}\.?(?:{_DIGITS})?|\.{_DIGITS})([eE][+-]?[0-9]+)?")


def _flatten(value: Mapping, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"override keys are names, got {key!r}")
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(_flatten(item, f"{name}."))
        elif isinstance(item, (list, tuple, set)):
            raise ValueError(f"override {name}: a single value is expected, got {item!r}")
        else:
            flat[name] = item
    return flat


def parse_overrides(overrides: Any) -> dict[str, Any]:
    """Overrides as a flat ``{dotted key: value}`` dict, from None / "" (none), a dict (nested dicts
    flatten), its JSON or YAML text, or a list of ``KEY=VALUE`` strings. ``runs.<run>.x`` is kept as
    ``<run>.x`` and ``task_options.x`` as ``task.x``."""
    if overrides is None or overrides == "" or overrides == {}:
        return {}
    if isinstance(overrides, str):
        try:  # JSON first: YAML 1.1 reads JSON's 1e-3 as text
            loaded = json.loads(overrides)
        except json.JSONDecodeError:
            loaded = None
        try:
            loaded = yaml.safe_load(overrides) if loaded is None else loaded
        except yaml.YAMLError as err:
            raise ValueError(f"overrides must be a dict or its JSON text, got {overrides!r} "
                             f"({err})") from None
        if not isinstance(loaded, Mapping):
            raise ValueError(f"overrides must be a dict or its JSON text, got {overrides!r}")
        overrides = loaded
    if isinstance(overrides, (list, tuple)):
        flat = dict(parse_assignment(item) for item in overrides)
    elif isinstance(overrides, Mapping):
        flat = _flatten(overrides)
    else:
        raise ValueError(f"overrides must be a dict, its JSON text or KEY=VALUE strings, got {overrides!r}")
    out = {}
    for key, value in flat.items():
        try:  # JSON and YAML read Infinity, NaN and .inf as floats, and a Python dict may hold them
            _check_number(value)
        except ValueError as err:
            raise ValueError(f"override {key}: {err}") from None
        if key.startswith("runs."):
            key = key[len("runs."):]
        elif key.startswith("task_options."):
            key = "task." + key[len("task_options."):]
        out[key] = value
    return out


def variant_name(overrides: Mapping[str, Any]) -> str:
    """The variant's name: its sorted overrides (``hadamrnn.bits=2,hidden_size=32``) when that is a
    short, file-safe name, else ``overrides-<hash>``. Empty without overrides."""
    if not overrides:
        return ""
    text = ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(overrides.items()))
    if _SAFE_NAME.match(text):
        return text
    digest = hashlib.sha256(json.dumps(dict(overrides), sort_keys=True).encode()).hexdigest()[:10]
    return f"overrides-{digest}"


def record_variant(overrides: Mapping[str, Any], seed: int = 0) -> str:
    """The variant name of the record that holds the runs made with ``overrides`` at ``seed``: the
    variant's own (:func:`variant_name`, "" for the profile's record) at seed 0, the seed added as
    ``seed=S`` for any other seed. So each seed's runs get a record (and provenance) of their own,
    ``data/results/<experiment>/variants/<profile>/seed=1.json`` or ``.../hidden_size=32,seed=1.json``,
    and seed 0 stays the record it always was (``seed`` is not an override key, so names never clash)."""
    return variant_name({**overrides, "seed": seed} if seed else overrides)


def command_options(overrides: Mapping[str, Any]) -> str:
    """The ``--set`` options of ``qornn run`` that give ``overrides`` (empty string without)."""
    def value(v: Any) -> str:
        text = v if isinstance(v, str) else json.dumps(v)
        return text if re.fullmatch(r"[A-Za-z0-9_.,+-]+", text) else f"'{text}'"
    return "".join(f" --set {k}={value(v)}" for k, v in sorted(overrides.items()))


def _init_options(cls: type) -> dict[str, Any]:
    """Keyword options of ``cls(...)`` -> default, following ``**options`` up its base classes."""
    options: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        forwards = False
        for p in inspect.signature(vars(klass)["__init__"]).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                forwards = True
            elif p.name not in ("self", "seed") and p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
                options.setdefault(p.name, None if p.default is p.empty else p.default)
        if not forwards:
            break
    return options


def _check_type(key: str, value: Any, default: Any) -> None:
    """A value of the default's kind: a number for a number, a bool for a bool, text for text
    (None defaults, and the model builders' own checks, take the rest)."""
    if default is None or default == "(required)":
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "True or False"
    elif isinstance(default, int):  # or None, where the setting takes it (bits=None: float)
        ok, kind = value is None or isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        # text, or an int where a setting takes either (bits: "same" or k)
        ok, kind = isinstance(value, str) or value is None or isinstance(value, int), "text"
    else:
        ok, kind = True, ""
    if not ok:
        raise ValueError(f"override {key}={value!r}: expected {kind}, like the default {default!r}")


def apply_overrides(config, overrides: Any):
    """``config`` (an :class:`~qornn.experiments.ExperimentConfig`) with ``overrides`` applied and
    checked, as the variant they name (its ``variant`` and ``overrides`` fields set). Every key must
    name a setting, every value must be one that setting takes: otherwise a ValueError naming it."""
    from .models import build_model
    from .models.options import model_options
    from .tasks import TASKS
    from .train import TrainConfig

    flat = parse_overrides(overrides)
    if not flat:
        return config
    train, task, task_options = dict(config.train), config.task, dict(config.task_options)
    models = {run: dict(spec) for run, spec in config.models.items()}
    train_fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    if "task" in flat:
        task = flat["task"]
        if task not in TASKS:
            raise ValueError(f"override task={task!r}: unknown task; valid: {', '.join(sorted(TASKS))}")
    task_fields = _init_options(TASKS[task])

    def run_options(run: str) -> dict[str, Any]:
        spec = models[run]
        if "ptq_of" in spec:
            return {"bits": spec.get("bits")}
        return {"model": spec["model"], **{k: o.default for k, o in model_options(spec["model"]).items()}}

    for key in flat:  # one setting named twice: which one wins would depend on the order given
        twice = [f"{prefix}.{key}" for prefix in ("train", "task")
                 if "." not in key and f"{prefix}.{key}" in flat]
        if twice:
            raise ValueError(f"overrides {key} and {twice[0]} set the same setting; give one of them")
    touched: dict[str, list[str]] = {}  # run -> the overrides that changed its model
    # every run's setting first, then one run's own (hadamrnn.hidden_size over hidden_size), whatever
    # the order given: the variant's name and command list them sorted, and must rebuild the same runs
    for key, value in sorted(flat.items(), key=lambda item: "." in item[0]):
        head, _, rest = key.partition(".")
        if key == "task":
            continue
        if head == "train" and rest or (not rest and key in train_fields):
            name = rest or key
            if name not in train_fields:
                raise ValueError(f"unknown override {key!r}: no training setting {name!r}; valid: "
                                 f"{', '.join(train_fields)}")
            train[name] = value
        elif head == "task" and rest or (not rest and key in task_fields):
            name = rest or key
            if name not in task_fields:
                raise ValueError(f"unknown override {key!r}: task {task!r} has no option {name!r}; valid: "
                                 f"{', '.join(task_fields)}")
            _check_type(key, value, task_fields[name])
            task_options[name] = value
        elif rest:
            if head not in models:
                raise ValueError(f"unknown override {key!r}: no run {head!r} in {config.experiment!r}; "
                                 f"runs: {', '.join(models)}")
            valid = run_options(head)
            if rest not in valid:
                raise ValueError(f"unknown override {key!r}: run {head!r} has no option {rest!r}; valid: "
                                 f"{', '.join(valid)}")
            _check_type(key, value, valid[rest])
            models[head][rest] = value
            touched.setdefault(head, []).append(key)
        else:
            runs = [run for run in models if "ptq_of" not in models[run] and key in run_options(run)]
            if not runs:
                raise ValueError(f"unknown override {key!r}: not a training setting, an option of task "
                                 f"{task!r} or an option of any run's model (qornn list --models)")
            for run in runs:
                _check_type(key, value, run_options(run)[key])
                models[run][key] = value
                touched.setdefault(run, []).append(key)
    try:
        TrainConfig(**train)
        for run_train in config.train_overrides.values():
            TrainConfig(**{**train, **run_train})
    except (TypeError, ValueError) as err:
        keys = [k for k in flat if k.startswith("train.") or k in train_fields]
        raise ValueError(f"override {', '.join(keys)}: {err}") from None
    for run, keys in touched.items():  # build each changed model once (tiny input/output sizes)
        if "ptq_of" in models[run]:
            from .quantize import check_bits
            try:
                check_bits(models[run].get("bits"), f"run {run!r} PTQ bits")
            except ValueError as err:
                raise ValueError(f"override {', '.join(keys)}: {err}") from None
            continue
        options = dict(models[run])
        padding = options.get("padding_idx")
        if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
            options["padding_idx"] = 0  # its range is the task's vocabulary: the run's own build checks it
        try:
            build_model(options.pop("model"), input_size=2, output_size=2, **options)
        except (TypeError, ValueError) as err:
            raise ValueError(f"override {', '.join(keys)}: {err}") from None
    return dataclasses.replace(config, task=task, task_options=task_options, models=models, train=train,
                               overrides={**config.overrides, **flat},
                               variant=variant_name({**config.overrides, **flat}))
