"""Sweeps (qornn/sweep.py): one smoke grid of four runs (hidden_size 4, 8 x seeds 0, 1 of the QORNN copy
task's float Björck ORNN) run on the local process pool, on Ray and through submitit's local executor
must give the same records; a sweep with a run killed in the middle resumes to them; a bad grid is
refused before anything starts; concurrent writers never lose a run."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
from pathlib import Path

import pytest
from _sweep_helpers import KILLED, die_after_first_checkpoint

from qornn import cli, results, sweep
from qornn.experiments import get_config, run_experiment

EXPERIMENT, PROFILE = "qornn-copy", "smoke"
GRID = {"hidden_size": [4, 8]}
SEEDS = [0, 1]
RUNS = ["ornn-bjorck"]


def _require(module: str) -> None:
    """The cluster extra is installed in CI (.ci/run), where its tests must run, never be skipped."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed: CI installs the cluster extra "
                        "(pip install -e '.[cluster]')")
        pytest.skip(f"{module} is not installed (pip install -e '.[cluster]')")


def _records(data_dir: Path) -> dict:
    """Every run of every record under ``data_dir``, without what differs between two runs of the
    same code (wall times, dates, hosts, resume points)."""
    out = {}
    for path in sorted((data_dir / "results").rglob("*.json")):
        record = json.loads(path.read_text())
        for run, data in record["runs"].items():
            history = [{k: v for k, v in point.items() if k not in ("wall_time_s", "resumed_at_steps")}
                       for point in data["history"]]
            out[(str(path.relative_to(data_dir)), run)] = (data["config_hash"], data["test"], history,
                                                         data["size_bits"], data["provenance"]["seed"])
    return out


def _sweep(**kwargs) -> sweep.SweepReport:
    return sweep.run_sweep(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=SEEDS, progress=False, **kwargs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid swept once on the local process pool (two processes): its records."""
    root = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QORNN_DATA_DIR", str(root / "data"))
        patch.setenv("QORNN_RUNS_DIR", str(root / "runs"))
        report = _sweep(executor="local", executor_options={"jobs": 2})
    assert not report.failed, report.table()
    return {"report": report, "records": _records(root / "data"), "data": root / "data"}


def test_the_local_executor_records_each_run_of_the_grid_with_its_seed_and_host(reference):
    records = reference["records"]
    assert sorted(path for path, _ in records) == [
        "results/qornn-copy/variants/smoke/hidden_size=4,seed=1.json",
        "results/qornn-copy/variants/smoke/hidden_size=4.json",
        "results/qornn-copy/variants/smoke/hidden_size=8,seed=1.json",
        "results/qornn-copy/variants/smoke/hidden_size=8.json"]
    assert len({value[0] for value in records.values()}) == 4  # four configurations, four hashes
    assert {path: value[4] for (path, _), value in records.items()} == {
        path: (1 if "seed=1" in path else 0) for path, _ in records}
    rows = reference["report"].rows
    assert [row["status"] for row in rows] == ["done"] * 4 and all(row["host"] for row in rows)
    record = json.loads((reference["data"] / "results/qornn-copy/variants/smoke/hidden_size=4,seed=1.json")
                        .read_text())
    assert record["overrides"] == {"hidden_size": 4}  # the seed names the record, it is no override
    assert record["runs"]["ornn-bjorck"]["provenance"]["host"]
    assert "4 task(s) done, 0 failed" in reference["report"].table()
    # how the grid ran, logged apart from the run records
    (logged,) = json.loads((reference["data"] / "sweeps/qornn-copy/smoke.json").read_text())["sweeps"]
    assert logged["executor"] == "local" and logged["options"] == {"jobs": 2}
    assert [row["status"] for row in logged["rows"]] == ["done"] * 4 and logged["seeds"] == SEEDS
    assert logged["provenance"]["commit"] is not None or logged["provenance"]["dirty"] is None


def test_a_second_sweep_skips_what_is_recorded_for_the_current_code(reference, monkeypatch):
    monkeypatch.setenv("QORNN_DATA_DIR", str(reference["data"]))
    monkeypatch.setattr(results, "code_changed_since", lambda run: None)
    planned = sweep.plan(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=SEEDS)
    assert planned.tasks == [] and len(planned.skipped) == 4
    # a new seed is planned alone, and a run made by code that changed since is trained again
    new_seed = sweep.plan(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=[0, 2]).tasks
    assert [t.seed for t in new_seed] == [2, 2]
    monkeypatch.setattr(results, "code_changed_since", lambda run: "made at commit x; qornn/ has changed")
    stale = sweep.plan(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=SEEDS).tasks
    assert [t.stale for t in stale] == [("ornn-bjorck",)] * 4 and all(t.todo == () for t in stale)
    assert sweep.plan(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=SEEDS, rerun_stale=False).tasks == []


def test_seeds_read_back_for_a_mean_and_a_cost(reference, monkeypatch):
    monkeypatch.setenv("QORNN_DATA_DIR", str(reference["data"]))
    frame = sweep.seed_frame(EXPERIMENT, PROFILE, SEEDS, overrides={"hidden_size": 4})
    assert sorted(frame["seed"]) == [0, 1] and set(frame["run"]) == {"ornn-bjorck"}
    stats = frame.groupby("run")["recall_accuracy"].agg(["mean", "std", "count"])
    assert stats.loc["ornn-bjorck", "count"] == 2
    cost = sweep.record_cost(EXPERIMENT, PROFILE)
    walls = [json.loads(p.read_text())["runs"]["ornn-bjorck"]["provenance"]["wall_time_s"]
             for p in (reference["data"] / "results").rglob("*.json")]
    assert cost["runs"] == 4 and cost["gpu_hours"] == 0
    assert cost["cpu_hours"] == pytest.approx(sum(walls) / 3600)  # one torch thread per run
    assert cost["on_last_device"] == []  # every start ran on the CPU
    assert sweep.record_cost("copy", PROFILE) == {"runs": 0, "cpu_hours": None, "gpu_hours": None,
                                                  "on_last_device": []}


def test_a_run_resumed_on_another_device_counts_each_start_on_its_own():
    cpu = "x86_64 (2 cores, 2 torch threads)"
    prov = {"device": "cpu", "device_name": cpu, "wall_time_s": 700.0,
            "segments": [{"device": "cuda", "device_name": "NVIDIA H200", "wall_time_s": 100.0},
                         {"device": "cpu", "device_name": cpu, "wall_time_s": 600.0}]}
    assert sweep._timed_starts(prov) == [("cuda", "NVIDIA H200", 100.0), ("cpu", cpu, 600.0)]
    del prov["segments"][0]["wall_time_s"]  # a start from before starts recorded their time
    assert sweep._timed_starts(prov) == [("cpu", cpu, 700.0)]
    # ... which the cost says, naming where its steps ran
    steps = [{"device": "cuda", "device_name": "NVIDIA H200", "from_step": 0, "to_step": 100},
             {"device": "cuda", "device_name": "NVIDIA H200", "from_step": 100, "to_step": 200},
             {"device": "cpu", "device_name": cpu, "from_step": 200, "to_step": 250}]
    assert sweep._device_spans(steps) == "steps 0–200 on NVIDIA H200, 200–250 on the CPU"


@pytest.fixture(scope="module")
def ray_session():
    """One Ray session (2 CPUs) for every Ray test: Ray takes seconds to start."""
    _require("ray")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_gives_the_same_records(reference, ray_session, isolated_dirs):
    report = _sweep(executor="ray")
    assert not report.failed, report.table()
    assert _records(isolated_dirs / "data") == reference["records"]
    assert ray_session.is_initialized()  # the sweep used the session it found and left it running


def test_submitit_local_executor_the_slurm_path_gives_the_same_records(reference, isolated_dirs):
    """Seed 0 of the grid (two jobs: each submitit job is a fresh Python process)."""
    _require("submitit")
    report = sweep.run_sweep(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, seeds=[0], progress=False,
                             executor="slurm", executor_options={"cluster": "local", "poll_s": 0.5,
                                                                 "time": 10, "folder": isolated_dirs / "sub"})
    assert not report.failed and len(report.rows) == 2, report.table()
    assert _records(isolated_dirs / "data") == {
        key: value for key, value in reference["records"].items() if "seed=" not in key[0]}


def test_a_sweep_with_a_run_killed_resumes_to_the_same_records(reference, isolated_dirs, monkeypatch):
    monkeypatch.setattr(results, "code_changed_since", lambda run: None)  # a tree with uncommitted edits
    killed = _sweep(executor="local", executor_options={"jobs": 2}, retries=0,
                    worker=die_after_first_checkpoint)
    failed = [(row["variant"], row["seed"]) for row in killed.failed]
    assert (f"hidden_size={KILLED['hidden_size']}", KILLED["seed"]) in failed  # reported, not dropped
    assert "BrokenProcessPool" in killed.table()
    cfg = get_config(EXPERIMENT, PROFILE, {"hidden_size": KILLED["hidden_size"]})
    digest = results.config_hash(cfg.run_config("ornn-bjorck", KILLED["seed"]))
    assert (isolated_dirs / "runs" / EXPERIMENT / PROFILE / "ornn-bjorck" / f"{digest}.pt").exists()
    assert _records(isolated_dirs / "data") != reference["records"]
    resumed = _sweep(executor="local", executor_options={"jobs": 2})
    assert not resumed.failed and len(resumed.rows) == len(failed)  # only what was left
    assert _records(isolated_dirs / "data") == reference["records"]


class _Handle:
    value, error = None, None


class _InlineExecutor:
    """Runs each task at once in this process (for the scheduling logic alone, no training)."""

    def __init__(self) -> None:
        self.submitted = []

    def submit(self, fn, task):
        self.submitted.append(task)
        handle = _Handle()
        try:
            handle.value = fn(task)
        except Exception as err:  # noqa: BLE001
            handle.error = err
        return handle

    def wait(self, handles):
        return list(handles)

    def result(self, handle):
        if handle.error is not None:
            raise handle.error
        return handle.value

    def close(self):
        pass


def test_a_failed_task_is_retried_then_reported():
    calls = []

    # a diverged run's message names its step, parameters and largest gradient: kept whole
    long_line = "at step 3: " + "recurrent.weight, input.weight, " * 20 + "the end"
    assert len(long_line) > 600

    def flaky(task):
        calls.append(task.overrides["hidden_size"])
        if task.overrides["hidden_size"] == 8:
            raise RuntimeError("out of memory\n" + long_line)
        if calls.count(4) == 1:
            raise RuntimeError("node lost")
        return {"runs": {}, "host": "here", "wall_time_s": 0.5}

    report = sweep.run_sweep(EXPERIMENT, PROFILE, runs=RUNS, grid=GRID, executor=_InlineExecutor(), retries=2,
                             worker=flaky, progress=False)
    assert sorted(calls) == [4, 4, 8, 8, 8]
    by_size = {row["variant"]: row for row in report.rows}
    assert by_size["hidden_size=4"]["status"] == "done" and by_size["hidden_size=4"]["attempts"] == 2
    assert by_size["hidden_size=8"]["status"] == "failed" and by_size["hidden_size=8"]["attempts"] == 3
    assert "RuntimeError: at step 3" in report.table()
    assert by_size["hidden_size=8"]["error"] == f"RuntimeError: {long_line}"


@pytest.mark.parametrize(("grid", "message"), [
    ({"hiden_size": [4]}, "unknown override 'hiden_size'"),
    ({"hidden_size": [4, "big"]}, "override hidden_size.*'big'"),
    ({"ornn-bjorck.bits": [3]}, "'ornn-bjorck.bits'.*no option 'bits'"),
    ({"train.lr": [0.1, -1]}, "lr"),
    (["hidden_size"], "KEY=V1,V2"),
])
def test_a_bad_grid_is_refused_before_anything_is_launched(grid, message):
    executor = _InlineExecutor()
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(EXPERIMENT, PROFILE, grid=grid, executor=executor, progress=False)
    assert executor.submitted == []


def test_bad_seeds_runs_and_executors_are_refused(capsys):
    for seeds, message in (("0,-1", "non-negative"), ("0,0", "twice"), ("a", "non-negative"),
                           ([], "no seed"), ("4294967296", r"seed must be an int in \[0, 2\*\*32\)")):
        with pytest.raises(ValueError, match=message):
            sweep.plan(EXPERIMENT, PROFILE, seeds=seeds)
    with pytest.raises(ValueError, match="unknown run"):
        sweep.plan(EXPERIMENT, PROFILE, runs=["nope"])
    with pytest.raises(ValueError, match="jobs must be a positive int.*got 0"):
        sweep.run_sweep(EXPERIMENT, PROFILE, executor="local", executor_options={"jobs": 0}, progress=False)
    with pytest.raises(ValueError, match="unknown executor 'mpi'"):
        sweep.run_sweep(EXPERIMENT, PROFILE, executor="mpi", progress=False)
    assert cli.main(["sweep", EXPERIMENT, "--profile", PROFILE, "--grid", "hiden_size=4,8"]) == 2
    assert "unknown override 'hiden_size'" in capsys.readouterr().err


def test_a_worker_on_another_machine_returns_the_packed_weights_its_runs_name(tmp_path, monkeypatch):
    from qornn import load_weights

    # the worker's data folder is not the driver's: the weights travel with the runs
    monkeypatch.setenv("QORNN_DATA_DIR", str(tmp_path / "worker"))
    monkeypatch.setenv("QORNN_RUNS_DIR", str(tmp_path / "worker-runs"))
    task = sweep.plan(EXPERIMENT, PROFILE, runs=RUNS).tasks[0]
    out = sweep.execute_task(task)
    where = out["runs"]["ornn-bjorck"]["weights"]["path"]
    assert out["weights"][where] == (tmp_path / "worker" / where).read_bytes()
    monkeypatch.setenv("QORNN_DATA_DIR", str(tmp_path / "driver"))
    sweep._gather(task, out["runs"], out["weights"])
    assert (tmp_path / "driver" / where).read_bytes() == out["weights"][where]
    assert load_weights(EXPERIMENT, "ornn-bjorck", profile=PROFILE) is not None


def test_the_command_line_plans_a_grid_and_groups_quantized_runs_with_their_source(capsys):
    assert cli.main(["sweep", EXPERIMENT, "--profile", PROFILE, "--runs",
                     "ornn-bjorck,ptq-bjorck-5bit,ornn-projunn", "--grid", "hidden_size=4,8",
                     "--seeds", "0,3", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 8  # 2 sizes x 2 seeds x 2 trained runs; the PTQ run goes with its source
    assert "run:  hidden_size=4 seed 3: ornn-bjorck,ptq-bjorck-5bit" in out


def test_a_seed_is_recorded_apart_and_qornn_show_reads_it(capsys):
    run_experiment(EXPERIMENT, PROFILE, seed=2, runs=["ornn-bjorck"], progress=False)
    assert results.load_record(EXPERIMENT, PROFILE, missing_ok=True) is None  # seed 0's record untouched
    record = results.load_record(EXPERIMENT, PROFILE, variant="seed=2")
    assert record["runs"]["ornn-bjorck"]["provenance"]["seed"] == 2
    assert cli.main(["show", EXPERIMENT, "--profile", PROFILE, "--seed", "2"]) == 0
    assert "ornn-bjorck" in capsys.readouterr().out
    assert get_config(EXPERIMENT, PROFILE).command(["ornn-bjorck"], 2).endswith("--seed 2 --runs ornn-bjorck")


def _write_runs(writer: int, count: int) -> None:
    for i in range(count):
        run = {"config": {"experiment": EXPERIMENT, "profile": PROFILE, "seed": 0},
               "config_hash": f"{writer:04d}{i:04d}", "history": [{"epoch": 1, "train_loss": 1.0, "val": {}}],
               "test": {"loss": float(i)}, "size_bits": 8, "baselines": {},
               "provenance": results.provenance(profile=PROFILE, seed=0, device="cpu", wall_time_s=0.1)}
        results.save_run(EXPERIMENT, PROFILE, f"writer{writer}-run{i}", run)


def test_concurrent_writers_of_one_record_never_lose_or_corrupt_a_run():
    writers, count = 6, 8
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_runs, args=(w, count)) for w in range(writers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    record = results.load_record(EXPERIMENT, PROFILE)  # valid JSON, schema-checked
    assert sorted(record["runs"]) == sorted(f"writer{w}-run{i}" for w in range(writers) for i in range(count))
    assert not list(results.record_path(EXPERIMENT, PROFILE).parent.glob(".*.tmp"))


def test_a_slurm_config_file_is_read_safely_and_checked(tmp_path):
    path = tmp_path / "slurm.yaml"
    path.write_text("partition: gpu\ntime: 120\ngpus: 1\narray_parallelism: 8\n")
    assert sweep.load_slurm_config(path) == {"partition": "gpu", "time": 120, "gpus": 1,
                                             "array_parallelism": 8}
    path.write_text("partition: gpu\nqueue: long\n")
    with pytest.raises(ValueError, match="unknown key.*queue"):
        sweep.load_slurm_config(path)
    path.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ValueError, match="cannot read"):
        sweep.load_slurm_config(path)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads a process's children from /proc")
def test_a_local_worker_ends_itself_when_its_sweep_is_killed(tmp_path):
    # A sweep killed by SIGKILL (or SIGTERM's default) cannot stop its pool: its workers must notice
    # and end, or an orphan goes on training a run that a restarted sweep trains again.
    import signal
    import subprocess
    import sys
    import time

    code = ("import time; from qornn.sweep import LocalExecutor; pool = LocalExecutor(1); "
            "pool.submit(time.sleep, 120); print('submitted', flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])

    def children() -> set[int]:
        found = set()
        for task in Path(f"/proc/{parent.pid}/task").glob("*"):
            found |= {int(pid) for pid in (task / "children").read_text().split()}
        return found

    try:
        assert parent.stdout.readline().strip() == "submitted"
        deadline = time.monotonic() + 60
        while not children() and time.monotonic() < deadline:  # the worker is spawned on submit
            time.sleep(0.2)
        workers = children()
        assert workers, "no worker process started"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in workers) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]
        assert not alive, f"workers still running after their sweep was killed: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in children() if parent.poll() is None else ():
            os.kill(pid, signal.SIGKILL)


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("State:")).lower()
    except (OSError, StopIteration):
        return "gone zombie"
