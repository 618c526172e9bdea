"""Overrides: any setting of a profile changed from the CLI or papermill, checked against the
configuration, recorded as a named variant that never touches the profile's own record."""

from __future__ import annotations

import pytest

from qornn import cli, results
from qornn.experiments import get_config, recorded_or_trained, run_experiment
from qornn.models import MODELS
from qornn.models.options import OPTION_DOCS, describe_models, model_options
from qornn.overrides import command_options, parse_assignment, parse_overrides, variant_name


def test_the_forms_of_an_override_read_the_same():
    nested = {"hidden_size": 32, "runs": {"hadamrnn": {"bits": 2}}, "train": {"lr": 0.01},
              "task_options": {"length": 30}}
    flat = {"hidden_size": 32, "hadamrnn.bits": 2, "train.lr": 0.01, "task.length": 30}
    assert parse_overrides(nested) == flat
    assert parse_overrides('{"hidden_size": 32, "runs": {"hadamrnn": {"bits": 2}}, "train": {"lr": 0.01},'
                           ' "task_options": {"length": 30}}') == flat
    assert parse_overrides(["hidden_size=32", "hadamrnn.bits=2", "train.lr=0.01", "task.length=30"]) == flat
    assert parse_overrides("") == parse_overrides(None) == parse_overrides({}) == {}
    assert parse_assignment("hadamrnn.nonlinearity=relu") == ("hadamrnn.nonlinearity", "relu")
    assert parse_assignment("hadamrnn.learn_signs=false") == ("hadamrnn.learn_signs", False)
    for bad in ("hidden_size", "=3", "a.b=[1, 2]"):
        with pytest.raises(ValueError, match="override"):
            parse_assignment(bad)
    with pytest.raises(ValueError, match="dict"):
        parse_overrides("[1, 2]")


def test_a_variant_is_named_by_its_overrides_and_its_command_gives_them_back():
    overrides = {"hidden_size": 32, "hadamrnn.bits": 2}
    assert variant_name(overrides) == "hadamrnn.bits=2,hidden_size=32"
    assert variant_name({"task.path": "/data/x y"}).startswith("overrides-")
    assert parse_overrides(command_options(overrides).replace(" --set ", "\n").split()) == overrides


def test_numbers_in_any_notation_read_as_numbers_and_a_command_gives_its_runs_back():
    # YAML 1.1 reads 1e-3, and 1e-05 (how a command writes 0.00001), as text
    for text, value in (("1e-3", 1e-3), ("1e-05", 1e-5), ("2.5E+2", 250.0), (".5", 0.5), ("-2", -2),
                        ("1_000", 1000), ("true", True), ("null", None), ("relu", "relu"), ("nan", "nan")):
        assert parse_assignment(f"x={text}") == ("x", value), text
    assert isinstance(parse_assignment("x=3")[1], int)
    # YAML 1.1's other booleans stay text, so a boolean option refuses them by name, as from JSON
    assert parse_assignment("x=yes") == ("x", "yes") and parse_assignment("x=~") == ("x", None)
    with pytest.raises(ValueError, match="hadamrnn.learn_signs='on'"):
        get_config("copy", "smoke", ["hadamrnn.learn_signs=on"])
    with pytest.raises(ValueError, match=r"override x: a single value is expected, got '\[1, 2\]'"):
        parse_assignment("x=[1, 2]")
    assert get_config("copy", "smoke", '{"train": {"lr": 1e-3}}').train["lr"] == 1e-3  # JSON text
    # None where a setting takes it, as `qornn list --models` prints it (bits None: float)
    assert get_config("copy", "smoke", ["hadamrnn.bits=None"]).models["hadamrnn"]["bits"] is None
    with pytest.raises(ValueError, match="override hidden_size: hidden size must be a positive int, got No"):
        get_config("copy", "smoke", ["hidden_size=None"])
    config = get_config("copy", "smoke", {"train.lr": 1e-5})
    assert "--set train.lr=1e-05" in config.command()
    assert get_config("copy", "smoke", ["train.lr=1e-05"]).train["lr"] == 1e-5


def test_overrides_in_any_order_make_the_same_runs():
    # every run's setting first, then a run's own, whatever the order given: one name, one command
    first = get_config("copy", "smoke", ["hidden_size=16", "hadamrnn.hidden_size=8"])
    then = get_config("copy", "smoke", ["hadamrnn.hidden_size=8", "hidden_size=16"])
    assert first.models == then.models and first.variant == then.variant
    assert first.models["hadamrnn"]["hidden_size"] == 8 and first.models["ornn"]["hidden_size"] == 16
    with pytest.raises(ValueError, match="overrides lr and train.lr set the same setting"):
        get_config("copy", "smoke", ["train.lr=1e-4", "lr=1e-3"])


def test_overrides_reach_the_settings_they_name_and_no_other():
    base = get_config("qornn-copy", "smoke")
    config = get_config("qornn-copy", "smoke", {"hidden_size": 16, "ornn-bjorck.nonlinearity": "relu",
                                                "train.lr": 0.05, "task.length": 20})
    trained = [run for run, spec in base.models.items() if "ptq_of" not in spec]
    assert all(config.models[run]["hidden_size"] == 16 for run in trained)
    assert config.models["ptq-bjorck-5bit"] == base.models["ptq-bjorck-5bit"]  # follows its source
    assert config.models["ornn-bjorck"]["nonlinearity"] == "relu"
    assert config.models["ornn-projunn"]["nonlinearity"] == base.models["ornn-projunn"]["nonlinearity"]
    assert config.train["lr"] == 0.05 and config.task_options["length"] == 20
    assert config.variant and config.overrides["task.length"] == 20
    assert base.variant == "" and base.overrides == {}
    # the profile's own configuration, and so its records' hashes, are untouched
    assert get_config("qornn-copy", "smoke").run_config("ornn-bjorck", 0) == base.run_config("ornn-bjorck", 0)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"hiden_size": 8}, "unknown override 'hiden_size'"),
    ({"nope.bits": 2}, "no run 'nope'.*runs: hadamrnn"),
    ({"lstm.block": 4}, "'lstm.block'.*no option 'block'"),
    ({"train.momentum": 0.9}, "'train.momentum'.*no training setting"),
    ({"task.colour": 1}, "'task.colour'.*no option 'colour'"),
    ({"task": "nosuch"}, "task='nosuch'.*unknown task"),
    ({"hadamrnn.bits": 1}, "override hadamrnn.bits.*bits=1"),
    ({"hadamrnn.nonlinearity": "sigmoid"}, "override hadamrnn.nonlinearity.*sigmoid"),
    ({"hadamrnn.learn_signs": "yes"}, "hadamrnn.learn_signs='yes'"),
    ({"lr": -1}, "override lr.*lr must be a positive number"),
    ({"train.epochs": 0}, "override train.epochs.*epochs must be a positive int"),
    ({"task.length": "long"}, "task.length='long'"),
    # review F6: a bool is an int to Python, so lr=True trained at 1.0 and grad_clip=true clipped at 1
    ({"train.lr": True}, "override train.lr: train lr must be a positive number.*got True"),
    ({"train.lr_gamma": True}, "override train.lr_gamma: train lr_gamma must be a number.*got True"),
    ({"train.grad_clip": True}, "override train.grad_clip: train grad_clip must be a positive number.*True"),
    ({"train.grad_clip": "1"}, "override train.grad_clip: train grad_clip must be a positive number.*'1'"),
    ({"train.lr_gamma": "0.5"}, "override train.lr_gamma: train lr_gamma must be a number.*'0.5'"),
    # review F2: not finite, whatever the form: a record holding it could never be read again
    ({"train.grad_clip": float("inf")}, "override train.grad_clip: inf is not a finite number"),
    ({"fastgrnn.zeta_init": float("nan")}, "override fastgrnn.zeta_init: nan is not a finite number"),
    ('{"train": {"grad_clip": Infinity}}', "override train.grad_clip: inf is not a finite number"),
    ('{"fastgrnn": {"nu_init": -Infinity}}', "override fastgrnn.nu_init: -inf is not a finite number"),
    ("train:\n  lr: .inf", "override train.lr: inf is not a finite number"),
    (["train.grad_clip=1e999"], "override train.grad_clip: '1e999' is not a finite number"),
    (["fastgrnn.zeta_init=-1e999"], "override fastgrnn.zeta_init: '-1e999' is not a finite number"),
    (["task.length=99999999999999999999"], "'99999999999999999999' is beyond the largest int"),
    ({"task.length": 2**64}, f"override task.length: {2**64} is beyond the largest int"),
])
def test_a_bad_override_is_an_error_naming_it(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_config("copy", "smoke", overrides)


def test_a_model_option_is_checked_when_the_configuration_is_made_not_after_training():
    with pytest.raises(ValueError, match="override ornn-projunn.method.*unknown low-rank method 'foo'"):
        get_config("qornn-copy", "smoke", {"ornn-projunn.method": "foo"})
    with pytest.raises(ValueError, match="override ornn-bjorck.iters.*Björck iters must be an int >= 1"):
        get_config("qornn-copy", "smoke", {"ornn-bjorck.iters": 0})
    # an embedding's padding index ranges over the task's vocabulary, not the tiny model built to check
    config = get_config("imdb", "smoke", {"hadamrnn.padding_idx": 3})
    assert config.models["hadamrnn"]["padding_idx"] == 3
    with pytest.raises(ValueError, match="override hadamrnn.padding_idx.*padding_idx must be None or an int"):
        get_config("imdb", "smoke", {"hadamrnn.padding_idx": -1})


def test_an_overridden_run_is_a_variant_that_resumes_and_never_touches_the_profile_record(monkeypatch):
    runs = ["hadamrnn", "lstm"]
    profile_record = run_experiment("copy", "smoke", runs=runs, progress=False)
    overrides = {"hidden_size": 4, "hadamrnn.bits": 2}
    record = run_experiment("copy", "smoke", runs=runs, progress=False, overrides=overrides)
    assert record["variant"] == "hadamrnn.bits=2,hidden_size=4" and record["overrides"] == overrides
    path = results.record_path("copy", "smoke", record["variant"])
    assert path.exists() and "variants" in path.parts
    assert results.load_record("copy", "smoke") == profile_record  # untouched
    for run in runs:
        data = record["runs"][run]
        assert data["provenance"]["overrides"] == overrides and data["config"]["model"]["hidden_size"] == 4
        assert data["config_hash"] != profile_record["runs"][run]["config_hash"]
    assert record["runs"]["hadamrnn"]["config"]["model"]["bits"] == 2
    # The same overrides find the same record: nothing trains again, from the CLI or a notebook.
    monkeypatch.setattr("qornn.experiments.runner.train", lambda *a, **k: pytest.fail("trained again"))
    again = run_experiment("copy", "smoke", runs=runs, progress=False,
                           overrides=["hadamrnn.bits=2", "hidden_size=4"])
    assert again == record
    shown, trained = recorded_or_trained("copy", "smoke", overrides='{"hidden_size": 4, "runs": '
                                                                     '{"hadamrnn": {"bits": 2}}}')
    assert shown == record and not trained


def test_a_missing_record_is_never_trained_by_a_page():
    with pytest.raises(results.RecordMissing, match=r"qornn run copy --profile smoke --set hidden_size=8"):
        recorded_or_trained("copy", "smoke", overrides={"hidden_size": 8})
    with pytest.raises(results.RecordMissing, match="copy/smoke.*retrain"):
        recorded_or_trained("copy", "smoke")
    assert not results.record_path("copy", "smoke").exists()


def test_the_cli_takes_overrides_and_names_a_bad_one(capsys):
    code = cli.main(["run", "copy", "--profile", "smoke", "--runs", "hadamrnn", "--no-progress",
                     "--set", "hidden_size=8", "--set", "train.epochs=1"])
    out = capsys.readouterr().out
    assert code == 0 and "variant hidden_size=8,train.epochs=1" in out
    assert results.load_record("copy", "smoke", variant="hidden_size=8,train.epochs=1")["runs"]["hadamrnn"]
    assert cli.main(["show", "copy", "--profile", "smoke", "--set", "hidden_size=8",
                     "--set", "train.epochs=1"]) == 0
    assert "hadamrnn" in capsys.readouterr().out
    assert cli.main(["run", "copy", "--profile", "smoke", "--set", "hadamrnn.bitz=2"]) == 2
    assert "unknown override 'hadamrnn.bitz'" in capsys.readouterr().err


def test_every_model_option_is_listed_with_its_default_and_meaning(capsys):
    for name in MODELS:
        options = model_options(name)
        assert "hidden_size" in options
        undocumented = [key for key in options if key not in OPTION_DOCS]
        assert not undocumented, f"{name}: add a meaning to OPTION_DOCS for {undocumented}"
    assert model_options("hadamrnn")["bits"].default == 4
    assert model_options("hadamrnn")["learn_signs"].default is True
    assert model_options("lstm")["bits"].default is None
    assert "learned_range" not in model_options("qornn-lsq-bjorck")  # fixed by that model
    assert model_options("fastgrnn")["zeta_init"].default == 1.0  # forwarded **options, followed
    assert cli.main(["list", "--models"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == describe_models()
    for name in MODELS:
        assert f"\n{name}: " in f"\n{out}"
    assert "learn_signs = True: " in out and "nonlinearity = 'linear': " in out


@pytest.mark.parametrize("settings", [{"lr": float("inf")}, {"lr": True}, {"lr_gamma": float("nan")},
                                      {"lr_gamma": False}, {"grad_clip": float("inf")}, {"grad_clip": True},
                                      {"grad_clip": "1.0"}])
def test_a_training_config_takes_finite_numbers_not_bools(settings):
    """Reviews F2 and F6, for a TrainConfig made in Python (not through overrides): each numeric
    setting is checked by name, before any training."""
    from qornn.train import TrainConfig

    (name, value), = settings.items()
    with pytest.raises(ValueError, match=f"train {name} must be .*got {value!r}"):
        TrainConfig(**settings)
    assert TrainConfig(lr=1, lr_gamma=1, grad_clip=2).grad_clip == 2  # ints are numbers


def test_a_value_of_the_wrong_kind_is_named_with_the_kind_wanted():
    """`--set bits=2.5` said "expected a value like the default 4": now which kind of value."""
    for override, wanted in (("bits=2.5", "bits=2.5: expected an integer, like the default 4"),
                             ("hadamrnn.learn_signs=1", "learn_signs=1: expected True or False, like the "
                                                        "default True")):
        with pytest.raises(ValueError, match=wanted):
            get_config("copy", "smoke", [override])
