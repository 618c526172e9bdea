"""The equivalence checks (scripts/kernel_equivalence.py, scripts/training_equivalence.py) that back
:data:`qornn.results.SAME_RESULTS`: what they compare, and that they see a difference."""

import importlib.util
import sys

import torch

from qornn import results

SCRIPTS = results._REPO_ROOT / "scripts"


def _script(name: str):
    sys.path.insert(0, str(SCRIPTS))  # the scripts import their shared helper, _equivalence
    try:
        spec = importlib.util.spec_from_file_location(f"check_{name}", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def test_training_check_compares_numbers_and_tensors_but_not_when_or_where():
    check = _script("training_equivalence")
    run = {"test": {"loss": 0.5}, "history": [{"epoch": 1, "train_loss": 0.7, "wall_time_s": 3.2}],
           "provenance": {"commit": "abc", "seed": 0, "date": "today", "segments": []}}
    stripped = check._strip({**run, "provenance": {**run["provenance"], "experiment_wall_time_s": 4.0}})
    assert stripped == {"test": {"loss": 0.5}, "history": [{"epoch": 1, "train_loss": 0.7}],
                        "provenance": {"seed": 0}}
    base = {"numbers": {"copy/hadamrnn": stripped}, "tensors": {"a.pt:model.w": torch.ones(3)}}
    assert check.differences(base, base) == []
    later = check._strip({**run, "history": [{"epoch": 1, "train_loss": 0.7, "wall_time_s": 9.9}]})
    assert check.differences(base, {**base, "numbers": {"copy/hadamrnn": later}}) == []
    nudged = check._strip({**run, "test": {"loss": 0.5 + 1e-16}})
    assert check.differences(base, {**base, "numbers": {"copy/hadamrnn": nudged}}) == \
        ["numbers of copy/hadamrnn (test.loss)"]
    one_ulp = torch.nextafter(torch.ones(3), torch.full((3,), 2.0))
    assert check.differences(base, {**base, "tensors": {"a.pt:model.w": one_ulp}}) == ["tensor a.pt:model.w"]
    wider = torch.ones(3, dtype=torch.float64)
    assert check.differences(base, {**base, "tensors": {"a.pt:model.w": wider}}) == ["tensor a.pt:model.w"]
    assert check.differences(base, {**base, "tensors": {}}) == ["tensor a.pt:model.w"]
    # a measurement after training that a change means to alter is left out by name, and only it
    measured = {**stripped, "analysis": {"activation_ptq": {"12": 0.1}, "W": 1.0}}
    remeasured = {**stripped, "analysis": {"activation_ptq": {"12": 0.01}, "W": 1.0}}
    pair = ({**base, "numbers": {"r": measured}}, {**base, "numbers": {"r": remeasured}})
    assert check.differences(*pair) == ["numbers of r (analysis.activation_ptq.12)"]
    assert check.differences(*pair, ["analysis.activation_ptq"]) == []
    moved = {**remeasured, "analysis": {"activation_ptq": {"12": 0.01}, "W": 2.0}}
    assert check.differences(pair[0], {**base, "numbers": {"r": moved}}, ["analysis.activation_ptq"]) == \
        ["numbers of r (analysis.W)"]


def test_the_checks_name_the_files_that_differ_with_their_blob_ids(tmp_path):
    shared = _script("_equivalence")
    old, new = tmp_path / "old", tmp_path / "new"
    for root, text in ((old, "x = 1\n"), (new, "x = 2\n")):
        (root / "qornn" / "sub").mkdir(parents=True)
        (root / "qornn" / "same.py").write_text("y = 0\n")
        (root / "qornn" / "sub" / "changed.py").write_text(text)
    (new / "qornn" / "added.py").write_text("z = 3\n")
    changed = shared.differing_files(old, new)
    assert changed == ["qornn/added.py", "qornn/sub/changed.py"]
    assert shared.blob_ids(old, changed) == {"qornn/sub/changed.py": results.blob_id("x = 1\n")}
    assert shared.blob_ids(new, changed)["qornn/added.py"] == results.blob_id("z = 3\n")
    # an earlier commit unpacked: its qornn/ as git has it
    unpacked = shared.unpack(shared.resolve("HEAD"), tmp_path / "head")
    path = "qornn/train.py"
    assert shared.blob_ids(unpacked, [path])[path] == results.blob_id(results._git_show("HEAD", path))
