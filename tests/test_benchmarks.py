"""Smoke tests of the benchmark scripts: each runs at toy sizes and writes a record with the expected
keys and provenance. No timing is asserted (the machine is shared; see benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import json
import sys

import nbformat
import pytest
import torch
from _notebook_helpers import ROOT, load_runner

from qornn import benchmark_report as bench

BENCHMARKS = ROOT / "benchmarks"


def _main(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import _common from their folder
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, f"bench_{name}", module)
    return module.main


def _run(name: str, args: list[str], tmp_path, monkeypatch) -> dict:
    out = tmp_path / f"{name}.json"
    # the defaults first: a test's own --threads (say) comes later and wins
    assert _main(name, monkeypatch)(["--reps", "1", "--threads", "1", "--out", str(out), *args]) == 0
    record = json.loads(out.read_text())
    assert record["benchmark"] == name
    assert {"commit", "dirty", "torch", "date", "device_name"} <= set(record["provenance"])
    # timed as training runs (subnormals flushed), except the benchmark that compares both modes
    assert record["config"]["subnormals_flushed"] is (name != "subnormals")
    return record


def test_interleaved_times_flush_subnormals_unless_told_not_to(monkeypatch, subnormal_survives):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from _common import interleaved_times

    seen = []
    step = {"a": lambda: seen.append(not subnormal_survives())}
    interleaved_times(step, reps=1)
    interleaved_times(step, reps=1, flush_subnormals=False)
    assert seen == [True, True, False, False]  # warm-up and timed call of each
    assert subnormal_survives()  # the default is back


def test_hadamrnn_step_writes_its_record(tmp_path, monkeypatch):
    record = _run("hadamrnn_step", ["--sizes", "8", "16", "--T", "20", "--t-sweep", "10", "20",
                                    "--t-sweep-n", "8", "--copy-T", "12", "--threads", "1", "2"],
                  tmp_path, monkeypatch)
    assert [r["threads"] for r in record["sizes"]] == [1, 1, 1, 2, 2, 2]  # pMNIST 8, 16, copy; twice
    pmnist = [r for r in record["sizes"] if r["shape"] == "pmnist" and r["threads"] == 1]
    assert [r["n"] for r in pmnist] == [8, 16]
    (copy,) = [r for r in record["sizes"] if r["shape"] == "copy" and r["threads"] == 1]
    assert copy["n"] == 128 and copy["T"] == 12 and copy["batch"] == 128
    variants = {"qornn-fast", "qornn-previous", "reference", "nn.RNN", "qornn-dense"}
    for row in record["sizes"]:
        assert set(row["median_s"]) == variants
        assert set(row["speedup_median_of_ratios"]) == variants - {"qornn-fast"}
        # float32 sums with cancellation (test_fast_hadamard checks the kernel in float64 to 1e-12)
        assert row["grad_u_rel_diff_fast_vs_dense"] < 1e-3
        assert 0 < row["roofline"]["fraction_of_peak"] and row["fwht_additions"] > 0
    assert set(record["exponent_n"]) == variants
    assert record["t_sweep"]["T"] == [10, 20] and set(record["exponent_T"]) == {"qornn-fast", "reference"}
    timed = {f"{v}@{T}" for v in ("qornn-fast", "reference") for T in (10, 20)}
    assert set(record["t_sweep"]["times_s"]) == timed
    # 1 thread vs 2, interleaved on one model, at every n
    assert set(record["thread_scaling"]) == {"8", "16"}
    for r in record["thread_scaling_runs"]:
        assert set(r["times_s"]) == {"1", "2", "probe@1", "probe@2"}
        assert len(r["times_s"]["1"]) == r["reps"] >= 5
    # the machine's own scaling, timed in the same loop, is recorded beside the kernel's and shown
    assert set(record["machine_thread_scaling"]) == {"8", "16"}
    from qornn import benchmark_report

    record["thread_scaling"]["512"], record["machine_thread_scaling"]["512"] = 0.9, 0.95
    text = benchmark_report.targets({"hadamrnn_step": record})
    assert "1.6× faster than one at n = 512: **missed** (0.90×; in the same loop a dense matrix" in text
    assert "got 0.95× from this machine" in text


def test_scaling_only_prints_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QORNN_DATA_DIR", str(tmp_path))
    main = _main("hadamrnn_step", monkeypatch)
    assert main(["--scaling-only", "--threads", "1", "2", "--sizes", "8", "--T", "10", "--reps", "1"]) == 0
    assert "2 threads vs one, qornn-fast" in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.json"))


def test_hadamrnn_step_measures_peak_memory_in_a_fresh_process(monkeypatch):
    _main("hadamrnn_step", monkeypatch)  # puts the benchmarks folder on sys.path
    from bench_hadamrnn_step import peak_memory_mb

    assert 0 <= peak_memory_mb("qornn-fast", 16, "pmnist", 10, 0) < 50


def test_paper_costs_writes_its_record(tmp_path, monkeypatch):
    out = tmp_path / "paper_costs.json"
    args = ["--experiments", "copy", "imdb", "--profile", "smoke", "--steps", "1", "--out", str(out)]
    assert _main("paper_costs", monkeypatch)(args) == 0
    record = json.loads(out.read_text())
    rows = {(r["experiment"], r["run"]): r for r in record["runs"]}
    hadamrnn = rows["copy", "hadamrnn"]
    assert hadamrnn["measured"] and hadamrnn["median_step_s"] > 0 and hadamrnn["optimizer_steps"] == 2 * 8
    assert hadamrnn["projected_hours"] == pytest.approx(hadamrnn["median_step_s"] * 16 / 3600)
    assert hadamrnn["implementation"] in ("fused C++ kernel", "dense")
    assert all(r["measured"] for r in record["runs"] if r["experiment"] == "copy")
    for r in (r for r in record["runs"] if not r["measured"]):  # no data here: the reason says so
        assert r["experiment"] == "imdb" and "not in the cache" in r["reason"]
    assert {"commit", "date"} <= set(record["provenance"])


def test_the_paper_costs_table_says_which_runs_fit_this_machine():
    from qornn.report import FITS_HOURS

    def row(run, hours):
        return {"experiment": "pmnist", "run": run, "measured": True, "model": run, "hidden_size": 512,
                "median_step_s": hours * 3600 / 1000, "optimizer_steps": 1000, "projected_hours": hours,
                "implementation": "dense"}

    def missing(experiment, run, reason="no data"):
        return {"experiment": experiment, "run": run, "measured": False, "reason": reason}

    record = {"runs": [row("small", FITS_HOURS), row("big", FITS_HOURS + 0.1), missing("imdb", "x"),
                       missing("imdb", "y"), missing("sst2", "z"), missing("imdb", "w", "other")]}
    table = bench.paper_costs_table(record).set_index("run")
    column = f"fits this machine (≤ {FITS_HOURS:g} h)"
    assert list(table[column].fillna("")) == ["yes", "no", "", "", ""]  # the bound itself fits
    # an experiment's runs missing for one reason share a row; another experiment or reason has its own
    assert list(table.index) == ["small", "big", "x, y", "z", "w"]
    assert table.loc["x, y", "not measured"] == "no data"
    # a run its paper profile now leaves out (the same model as another there) is not run: not listed
    plane = [{**row(run, 1.0), "experiment": "hadamrnn-size-accuracy"}
             for run in ("hadamrnn-p4", "hadamrnn-p4-learned-signs")]
    assert list(bench.paper_costs_table({"runs": plane})["run"]) == ["hadamrnn-p4"]


def test_paper_costs_of_some_experiments_keep_the_other_rows_and_say_when_each_was_measured(
        tmp_path, monkeypatch):
    out = tmp_path / "paper_costs.json"
    main = _main("paper_costs", monkeypatch)
    common = ["--profile", "smoke", "--steps", "1", "--out", str(out)]
    assert main(["--experiments", "copy", "imdb", *common]) == 0
    first = json.loads(out.read_text())
    copy_rows = [r for r in first["runs"] if r["experiment"] == "copy"]
    assert all({"commit", "dirty", "date", "load_average_before"} <= set(r["measured_at"]) for r in copy_rows)
    assert main(["--experiments", "imdb", *common]) == 0
    second = json.loads(out.read_text())
    assert [r for r in second["runs"] if r["experiment"] == "copy"] == copy_rows  # kept as they were
    assert second["config"]["experiments"] == ["copy", "imdb"]
    # a row written before rows carried measured_at gets the old record's provenance
    second["runs"] = [{k: v for k, v in r.items() if k != "measured_at"} for r in second["runs"]]
    second["provenance"]["date"] = "2026-12-01T09:00:00+00:00"  # an older record's, as such rows have
    out.write_text(json.dumps(second))
    assert main(["--experiments", "imdb", *common]) == 0
    third = json.loads(out.read_text())
    kept = [r for r in third["runs"] if r["experiment"] == "copy"]
    assert kept and all(r["measured_at"]["date"] == "2026-12-01T09:00:00+00:00" for r in kept)
    import qornn.benchmark_report as bench

    calls = bench.paper_costs_measurements(third)
    assert list(calls["experiments"]) == ["copy", "imdb"] and len(calls) == 2
    assert main(["--experiments", "imdb", "--replace", *common]) == 0
    assert {r["experiment"] for r in json.loads(out.read_text())["runs"]} == {"imdb"}
    with pytest.raises(SystemExit, match="profile 'smoke', not 'paper'"):
        main(["--experiments", "imdb", "--steps", "1", "--out", str(out)])


def test_qornn_step_writes_its_record(tmp_path, monkeypatch):
    record = _run("qornn_step", ["--sizes", "8", "16", "--T", "20", "--batch", "4"], tmp_path, monkeypatch)
    assert record["config"]["batch"] == 4 and record["config"]["bits"] == 4
    pairs = {"bjorck": ("qornn-ste-bjorck", "ornn-bjorck"), "projunn": ("qornn-ste-projunn", "ornn-projunn")}
    for row in record["sizes"]:
        assert set(row["qornn_over_ornn"]) == set(pairs)
        for quantized, float_ in pairs.values():
            for name in (quantized, float_):
                assert name in row["median_s"] and f"{name}:reorth" in row["median_s"]
                assert 0 < row["reorth_share"][name]
        assert set(row["reorth_share_all_iters"]) == set(pairs["bjorck"])
    assert "qornn-ste-bjorck" in record["exponent_n"]


def test_inference_writes_its_record(tmp_path, monkeypatch):
    record = _run("inference", ["--hidden", "16", "--block", "4", "--T", "10"], tmp_path, monkeypatch)
    assert [r["model"] for r in record["models"]] == ["hadamrnn", "block-hadamrnn", "qornn-ste-bjorck"]
    for row in record["models"]:
        assert row["outputs_equal"] is True
        assert row["max_abs_diff_packed_fast_vs_float_dense"] < 1e-3
        assert row["storage"]["ratio_payload"] > 1
        assert set(row["sequences_per_s"]) == {"float", "packed"} and row["speedup_packed_over_float"] > 0


def test_gated_step_writes_its_record(tmp_path, monkeypatch):
    record = _run("gated_step", ["--sizes", "8", "--T", "12", "--batch", "4"], tmp_path, monkeypatch)
    (row,) = record["sizes"]
    models = ("lstm", "gru", "fastgrnn")
    assert set(row["median_s"]) == {f"{m}:{w}" for m in models for w in ("fused", "loop")}
    ratios = row["loop_over_fused"]
    assert set(ratios) == {"lstm", "gru", "fastgrnn"} and all(r > 0 for r in ratios.values())


def test_subnormals_writes_its_record(tmp_path, monkeypatch):
    record = _run("subnormals", ["--sizes", "8", "--T", "12", "--batch", "4"], tmp_path, monkeypatch)
    (row,) = record["sizes"]
    cases = ("lstm-initial", "fastgrnn-initial", "fastgrnn-saturated")
    assert set(row["median_s"]) == {f"{c}:{m}" for c in cases for m in ("keep", "flush")}
    # the saturated gate really is in the subnormal range, the initial one is not
    share = row["subnormal_share"]
    assert share["fastgrnn-saturated"]["update_gates"] > 0.5
    assert share["fastgrnn-initial"]["update_gates"] == 0 and share["lstm-initial"]["update_gates"] is None
    assert all(r > 0 for r in row["keep_over_flush"].values())


def test_allocator_writes_its_record(tmp_path, monkeypatch):
    from qornn import allocator

    if allocator._mallopt() is None:
        pytest.skip("the C library is not glibc: the script has nothing to compare")
    out = tmp_path / "allocator.json"
    args = ["--runs", "qornn-copy/qornn-ste-bjorck-4bit", "copy/hadamrnn", "--profile", "smoke",
            "--reps", "2", "--out", str(out)]
    assert _main("allocator", monkeypatch)(args) == 0
    record = json.loads(out.read_text())
    assert record["benchmark"] == "allocator" and record["config"]["profile"] == "smoke"
    assert [(r["experiment"], r["run"]) for r in record["runs"]] == [("qornn-copy", "qornn-ste-bjorck-4bit"),
                                                                     ("copy", "hadamrnn")]
    for row in record["runs"]:
        for policy in ("default", "retained"):
            assert len(row["times_s"][policy]) == len(row["minor_faults"][policy]) == 2
        assert row["default_over_retained"] > 0
    assert {"commit", "date"} <= set(record["provenance"])
    with pytest.raises(ValueError, match="not a trained run"):
        _main("allocator", monkeypatch)(["--runs", "qornn-copy/ptq-bjorck-4bit", "--profile", "smoke",
                                         "--no-json"])


def test_tanh_recurrence_writes_its_record_with_both_kernels_and_the_tanh_error(tmp_path, monkeypatch):
    from qornn import fast_hadamard

    if not fast_hadamard.available():
        pytest.skip("no C++ build")
    record = _run("tanh_recurrence", ["--hidden", "16", "--batch", "3", "--T", "12", "--reps", "2"], tmp_path,
                  monkeypatch)
    (row,) = record["sizes"]
    assert set(row["times_s"]) == {"vector tanh", "library tanh"} and len(row["times_s"]["vector tanh"]) == 2
    assert row["library_over_vector"] > 0 and (row["hidden"], row["T"]) == (16, 12)
    accuracy = record["accuracy"]
    assert accuracy["specials_ok"] and accuracy["vector tanh"]["max_ulp"] <= 3
    steps, errors = bench.tanh_recurrence_tables(record)
    assert list(steps["shape"]) == ["pmnist"]
    assert set(errors["float tanh"]) == {"vector tanh", "torch.tanh (float32)"}


@pytest.mark.parametrize("script", ["hadamrnn_step", "qornn_step", "inference", "gated_step", "subnormals",
                                    "paper_costs", "allocator", "sequence_passes", "provenance_notes",
                                    "tanh_recurrence"])
def test_help_runs(script, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        _main(script, monkeypatch)(["--help"])
    assert exit_.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.slow
def test_speed_page_renders_the_records(tmp_path, monkeypatch):
    # Toy records in the temporary data folder (QORNN_DATA_DIR, which the kernel inherits).
    folder = tmp_path / "data" / "results" / "benchmarks"
    _main("hadamrnn_step", monkeypatch)(["--sizes", "8", "16", "--T", "10", "--reps", "1", "--t-sweep",
                                         "--no-copy", "--threads", "1",
                                         "--out", str(folder / "hadamrnn_step.json")])
    _main("qornn_step", monkeypatch)(["--sizes", "8", "16", "--T", "10", "--batch", "4", "--reps", "1",
                                      "--out", str(folder / "qornn_step.json")])
    _main("inference", monkeypatch)(["--hidden", "16", "--block", "4", "--T", "10", "--reps", "1",
                                     "--out", str(folder / "inference.json")])
    _main("gated_step", monkeypatch)(["--sizes", "8", "--T", "10", "--batch", "4", "--reps", "1",
                                      "--out", str(folder / "gated_step.json")])
    _main("subnormals", monkeypatch)(["--sizes", "8", "--T", "10", "--batch", "4", "--reps", "1",
                                      "--out", str(folder / "subnormals.json")])
    _main("paper_costs", monkeypatch)(["--experiments", "copy", "--profile", "smoke", "--steps", "1",
                                       "--out", str(folder / "paper_costs.json")])
    _main("allocator", monkeypatch)(["--runs", "qornn-copy/qornn-ste-bjorck-4bit", "--profile", "smoke",
                                     "--reps", "1", "--out", str(folder / "allocator.json")])
    _main("sequence_passes", monkeypatch)(["--hidden", "8", "--batch", "3", "--T", "12", "--reps", "1",
                                           "--out", str(folder / "sequence_passes.json")])
    _main("tanh_recurrence", monkeypatch)(["--hidden", "16", "--batch", "3", "--T", "12", "--reps", "1",
                                           "--out", str(folder / "tanh_recurrence.json")])
    _main("dense_recurrence", monkeypatch)(["--hidden", "8", "--batch", "3", "--T", "12", "--reps", "1",
                                            "--out", str(folder / "dense_recurrence.json")])
    _main("sequence_loss", monkeypatch)(["--shapes", "copy", "--reps", "1",
                                         "--out", str(folder / "sequence_loss.json")])
    out = tmp_path / "executed" / "benchmarks" / "speed.ipynb"
    load_runner().execute(ROOT / "notebooks" / "benchmarks" / "speed.py", out, {}, timeout=600)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert not [o["text"] for o in outputs if o.get("name") == "stderr"]  # no warning shown to a reader
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    html = "\n".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    for text in ("qornn-fast (s)", "QORNN / ORNN", "× smaller (files)", "loop / fused", "kept / flushed",
                 "commit", "benchmarks/qornn_step.py", "benchmarks/gated_step.py",
                 "benchmarks/subnormals.py", "projected hours (1 thread)", "default / retained",
                 "page faults (retained)", "two tensors / one pass", "library / vector",
                 "largest error (ulp)", "autograd / hand-written", "their share of the step",
                 "flat / classes on dim 1"):
        assert text in html, text
    markdown = "\n".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    assert "Targets" in markdown and "No record" not in markdown and "No `gated_step` record" not in markdown
    assert "No `subnormals` record" not in markdown
    assert "of the hand-written step, so a kernel that ran them at that rate" in markdown


def test_speed_panels_give_a_variant_one_colour_and_name_the_thread_count():
    """The speed figure (figure review §1e): each baseline's speed-up bars have that variant's colour
    on the step-time panel, and both titles give the thread count drawn (the first timed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    variants = ["qornn-fast", "qornn-previous", "reference", "nn.RNN"]
    rows = [{"shape": "pmnist", "n": n, "threads": threads,
             "median_s": {v: 0.1 * (i + 1) * n for i, v in enumerate(variants)},
             "speedup_median_of_ratios": {v: float(i + 1) for i, v in enumerate(variants) if i}}
            for threads in (2, 1) for n in (8, 16)]
    record = {"config": {"variants": variants}, "sizes": rows}
    fig, axes = plt.subplots(1, 2)
    bench.plot_step_times(record, ax=axes[0])
    bench.plot_speedups(record, ax=axes[1])
    lines = {line.get_label().split(" (")[0]: mcolors.to_hex(line.get_color())
             for line in axes[0].get_lines()}
    bars = {c.get_label().removeprefix("× "): mcolors.to_hex(c.patches[0].get_facecolor())
            for c in axes[1].containers}
    assert list(bars) == variants[1:] and all(bars[v] == lines[v] for v in bars)
    assert [ax.get_title() for ax in axes] == ["step time, 2 threads", "speed-up of qornn-fast, 2 threads"]
    plt.close(fig)


def test_targets_say_met_missed_and_missing():
    from qornn import benchmark_report

    qstep = {"config": {"target_qornn_over_ornn": 1.5},
             "sizes": [{"n": 64, "qornn_over_ornn": {"bjorck": 1.1, "projunn": 2.0}}]}
    text = benchmark_report.targets({"qornn_step": qstep})
    assert "**missed** (largest ratio 2.00×, projunn at n = 64)" in text
    assert "No record of `inference` yet" in text and "No record of `qornn_step`" not in text
    qstep["sizes"][0]["qornn_over_ornn"]["projunn"] = 1.2
    assert "met (largest ratio 1.20×" in benchmark_report.targets({"qornn_step": qstep})


def test_sequence_loss_writes_its_record(tmp_path, monkeypatch):
    record = _run("sequence_loss", ["--shapes", "copy", "ptb-char", "--reps", "2"], tmp_path, monkeypatch)
    assert [r["shape"] for r in record["sizes"]] == ["copy", "ptb-char"]
    for row in record["sizes"]:
        assert set(row["times_s"]) == {"flat", "classes-dim-1"} and len(row["times_s"]["flat"]) == 2
        assert row["flat_over_classes_dim_1"] > 0
    table = bench.sequence_loss_table(record)
    assert list(table["classes"]) == [9, 50] and (table["flat / classes on dim 1"] > 0).all()


def test_dense_recurrence_writes_its_record_and_checks_equal_gradients(tmp_path, monkeypatch):
    record = _run("dense_recurrence", ["--hidden", "8", "--batch", "3", "--T", "12", "--reps", "2"], tmp_path,
                  monkeypatch)
    assert [r["shape"] for r in record["sizes"]] == ["copy", "pmnist"]
    for row in record["sizes"]:
        assert row["same_gradients"] is True  # the hand-written backward is autograd's, bit for bit
        assert set(row["times_s"]) == {"hand-written", "autograd", "three GEMMs"}
        assert len(row["times_s"]["autograd"]) == 2 and row["products_over_hand_written"] > 0
        assert row["autograd_over_hand_written"] > 0 and (row["hidden"], row["T"]) == (8, 12)
    table = bench.dense_recurrence_table(record)
    assert list(table["shape"]) == ["copy", "pmnist"] and table["same gradients"].all()
    assert table["their share of the step"].str.endswith("%").all()
    record["sizes"][0]["products_over_hand_written"] = 0.5
    assert "take 50% of the hand-written step, so a kernel that ran them at that rate and everything else " \
           "for free would make this step at most 2× faster" in bench.dense_bound_text(record).splitlines()[0]
    # a record made before the products were timed still reads, with no share
    for row in record["sizes"]:
        del row["products_over_hand_written"], row["median_s"]["three GEMMs"]
    assert (bench.dense_recurrence_table(record)["their share of the step"] == "—").all()
    assert "not measured in this record" in bench.dense_bound_text(record)


def test_sequence_passes_writes_its_record_and_checks_equal_gradients(tmp_path, monkeypatch):
    record = _run("sequence_passes", ["--hidden", "8", "--batch", "3", "--T", "12", "--reps", "2"], tmp_path,
                  monkeypatch)
    assert [r["shape"] for r in record["sizes"]] == ["copy", "ptb"]
    for row in record["sizes"]:
        assert row["same_gradients"] is True  # one pass and two tensors give the same bits
        assert set(row["times_s"]) == {"one-pass", "two-tensors"} and len(row["times_s"]["one-pass"]) == 2
        assert row["two_tensors_over_one_pass"] > 0 and (row["hidden"], row["T"]) == (8, 12)
    table = bench.sequence_passes_table(record)
    assert list(table["shape"]) == ["copy", "ptb"] and (table["two tensors / one pass"] > 0).all()
