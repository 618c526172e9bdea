"""Sweeps: an experiment's grid of variants × seeds, run on a workstation, a Ray cluster or SLURM.

A sweep is ``experiment`` × ``profile`` × the points of a ``grid`` × ``seeds``:

- a grid point is a set of overrides (:mod:`qornn.overrides`), so a named variant with its own
  record (the empty grid: the profile itself); ``{"hidden_size": [32, 64], "train.lr": [1e-3]}``
  has two points. Every point is resolved with :func:`~qornn.experiments.get_config` *before*
  anything is launched, so an unknown key or a bad value stops the sweep with the override's error;
- each seed's runs go to a record of their own (:func:`qornn.overrides.record_variant`): seed 0 to
  the variant's (or the profile's) record as ``qornn run`` always did, seed ``S`` to
  ``variants/<profile>/seed=S.json`` (``.../<variant>,seed=S.json``). Every run so keeps its own
  record, configuration hash (the seed is in it), checkpoint and provenance, and
  :func:`seed_frame` gathers one run's numbers over the seeds for a mean ± std.

:func:`plan` reads the records and leaves out every run already recorded with the current
configuration hash and not flagged by :func:`qornn.results.code_changed_since`. What is left
becomes tasks, one per trained run (with the post-training-quantization runs of it, which only
quantize its trained weights: they would otherwise train the same checkpoint twice at once).
:func:`run_sweep` hands each task to an executor, which calls :func:`execute_task`, i.e.
:func:`~qornn.experiments.run_experiment`, the function behind ``qornn run``, so a run behaves the
same everywhere and resumes from its checkpoint when it was interrupted. A failed task is retried
``retries`` times, then reported as failed (the report and the exit status say so). The runs each
task returns are gathered into this checkout's ``data/results`` (under the record's lock), so runs
made on other machines land here too.

Executors (:data:`EXECUTORS`), each on an existing engine:

- ``local``: :class:`concurrent.futures.ProcessPoolExecutor`, one process per core, one torch
  thread each;
- ``ray``: Ray tasks with ``num_cpus`` / ``num_gpus`` per run; ``address`` joins a running cluster;
- ``slurm``: submitit (a job array, partition, time, GPUs; ``cluster="local"`` runs the same path
  on this machine with submitit's local executor).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import itertools
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

from . import results
from .overrides import parse_assignment, parse_overrides

__all__ = ["EXECUTORS", "SweepTask", "SweepPlan", "SweepReport", "parse_grid", "parse_seeds", "plan",
           "execute_task", "run_sweep", "seed_frame", "record_cost", "grid_costs", "load_slurm_config"]

EXECUTORS = ("local", "ray", "slurm")
#: environment variables that tell a worker where data, records and checkpoints are
_ENVIRON = ("QORNN_DATA_DIR", "QORNN_RUNS_DIR", "QORNN_CACHE_DIR")


@dataclasses.dataclass
class SweepTask:
    """One unit of work: runs of one grid point at one seed, trained (or quantized) in one process."""

    experiment: str
    profile: str
    overrides: dict[str, Any]
    seed: int
    #: runs not recorded (or recorded with another configuration): trained, resuming any checkpoint
    todo: tuple[str, ...]
    #: runs recorded with this configuration but by code that changed since: trained again
    stale: tuple[str, ...] = ()
    device: str = "cpu"
    threads: int = 1
    environ: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def runs(self) -> tuple[str, ...]:
        return self.stale + self.todo

    @property
    def variant(self) -> str:
        from .overrides import variant_name
        return variant_name(self.overrides)

    @property
    def label(self) -> str:
        return f"{self.variant or self.profile} seed {self.seed}: {','.join(self.runs)}"


@dataclasses.dataclass
class SweepPlan:
    experiment: str
    profile: str
    tasks: list[SweepTask]
    #: (variant, seed, run) already recorded for the current code
    skipped: list[tuple[str, int, str]]
    points: list[dict[str, Any]]
    seeds: list[int]


@dataclasses.dataclass
class SweepReport:
    """What a sweep did: one row per task (status ``done`` or ``failed``) and the runs it skipped."""

    plan: SweepPlan
    rows: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["status"] == "failed"]

    def table(self) -> str:
        """A plain-text summary: one line per task, then the totals."""
        head = f"{'variant':<28} {'seed':>4}  {'runs':<34} {'status':<7} {'tries':>5} {'wall s':>8}  host"
        lines = [head, "-" * len(head)]
        for row in self.rows:
            wall = f"{row['wall_time_s']:.1f}" if row["wall_time_s"] is not None else "-"
            lines.append(f"{row['variant'] or '(profile)':<28} {row['seed']:>4}  {row['runs']:<34} "
                         f"{row['status']:<7} {row['attempts']:>5} {wall:>8}  {row['host'] or '-'}")
            if row["error"]:
                lines.append(f"    error: {row['error']}")
        done = sum(row["status"] == "done" for row in self.rows)
        lines.append(f"{done} task(s) done, {len(self.failed)} failed, "
                     f"{len(self.plan.skipped)} run(s) skipped (already recorded for the current code)")
        return "\n".join(lines)


def parse_grid(grid: Any) -> dict[str, list[Any]]:
    """``{"key": [v1, v2]}`` from that dict, or from ``["key=v1,v2", ...]`` (the CLI's ``--grid``,
    each value read as a YAML scalar like ``--set``). A key given twice or without values is an error."""
    if grid is None:
        return {}
    if isinstance(grid, Mapping):
        out = {}
        for key, values in grid.items():
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            if not values:
                raise ValueError(f"grid key {key!r} has no values")
            out[str(key)] = values
        return out
    out: dict[str, list[Any]] = {}
    for item in grid:
        key, sep, raw = str(item).partition("=")
        if not sep or not raw.strip():
            raise ValueError(f"a grid axis is KEY=V1,V2,... (e.g. hidden_size=32,64), got {item!r}")
        if key.strip() in out:
            raise ValueError(f"grid key {key.strip()!r} given twice")
        out[key.strip()] = [parse_assignment(f"{key.strip()}={value}")[1] for value in raw.split(",")]
    return out


def parse_seeds(seeds: Any) -> list[int]:
    """``[0, 1, 2]`` from that list or from ``"0,1,2"``; ints in [0, 2**32), each once."""
    if seeds is None:
        return [0]
    items = seeds.split(",") if isinstance(seeds, str) else list(seeds)
    out = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not (isinstance(item, int) or text.isdigit()):
            raise ValueError(f"a seed is a non-negative int, got {item!r}")
        seed = results.check_seed(int(text))  # refused here, not by each worker after the sweep started
        if seed in out:
            raise ValueError(f"seed {seed} given twice")
        out.append(seed)
    if not out:
        raise ValueError("no seed given")
    return out


def _grid_points(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def plan(experiment: str, profile: str, *, runs: Sequence[str] | None = None, seeds: Any = None,
         grid: Any = None, overrides: Any = None, device: str = "cpu", threads: int = 1,
         rerun_stale: bool = True) -> SweepPlan:
    """The tasks of a sweep, every grid point checked first (a ValueError names the bad key or value).

    ``overrides`` apply to every point; ``runs`` restricts each point to these runs. A run recorded
    with the current configuration is skipped unless the code changed since it was made
    (:func:`qornn.results.code_changed_since`), when it is trained again (unless not
    ``rerun_stale``)."""
    from .experiments import get_config

    base = parse_overrides(overrides)
    axes = parse_grid(grid)
    clash = sorted(set(axes) & set(base))
    if clash:
        raise ValueError(f"grid key(s) {', '.join(clash)} also given as an override")
    seed_list = parse_seeds(seeds)
    points = [{**base, **point} for point in _grid_points(axes)]
    configs = [get_config(experiment, profile, point) for point in points]  # refuses a bad grid
    names = list(configs[0].models) if runs is None else list(runs)
    for cfg in configs:
        cfg.check_runs(names)
        cfg.check()
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads per run must be a positive int, got {threads!r}")
    environ = {key: os.environ[key] for key in _ENVIRON if key in os.environ}
    tasks, skipped = [], []
    for cfg, seed in itertools.product(configs, seed_list):
        variant = cfg.record_variant(seed)
        record = results.load_record(experiment, profile, missing_ok=True, variant=variant) or {"runs": {}}
        groups: dict[str, dict[str, list[str]]] = {}  # trained run -> {"todo": [...], "stale": [...]}
        for run in names:
            done = record["runs"].get(run)
            state = "todo"
            if done is not None and done["config_hash"] == results.config_hash(cfg.run_config(run, seed)):
                if not rerun_stale or results.code_changed_since(done) is None:
                    skipped.append((variant, seed, run))
                    continue
                state = "stale"
            group = groups.setdefault(cfg.source_run(run) or run, {"todo": [], "stale": []})
            group[state].append(run)
        for source, group in groups.items():
            order = sorted(group["todo"], key=lambda r: r != source), sorted(group["stale"],
                                                                             key=lambda r: r != source)
            tasks.append(SweepTask(experiment, profile, dict(cfg.overrides), seed, tuple(order[0]),
                                   tuple(order[1]), device, threads, environ))
    return SweepPlan(experiment, profile, tasks, skipped, points, seed_list)


def execute_task(task: SweepTask) -> dict[str, Any]:
    """Run one task where it lands (a pool process, a Ray worker, a SLURM job): the stale runs with
    ``retrain`` first, then the others (resuming their checkpoints), each through
    :func:`~qornn.experiments.run_experiment`, the function ``qornn run`` calls. Returns the
    runs' records with the host, for the driver to gather."""
    os.environ.update(task.environ)
    import torch

    from .allocator import retain_freed_memory
    from .experiments import run_experiment

    torch.set_num_threads(task.threads)
    retain_freed_memory()  # the next step reuses the pages this one freed (same numbers, fewer faults)
    start = time.perf_counter()
    record: dict = {}
    for retrain, runs in ((True, task.stale), (False, task.todo)):
        if runs:
            record = run_experiment(task.experiment, task.profile, seed=task.seed, device=task.device,
                                    runs=list(runs), retrain=retrain, progress=False,
                                    overrides=task.overrides)
    runs = {run: record["runs"][run] for run in task.runs}
    return {"runs": runs, "weights": _weights_files(runs), "host": platform.node(),
            "wall_time_s": time.perf_counter() - start}


def _weights_files(runs: Mapping[str, dict]) -> dict[str, bytes]:
    """The packed weights each of ``runs`` names (its ``weights`` entry), by path under the data
    folder: a worker on another machine returns them with the runs, which name them."""
    files = {}
    for data in runs.values():
        where = (data.get("weights") or {}).get("path")
        file = results.data_dir() / where if where else None
        if file is not None and file.is_file():
            files[where] = file.read_bytes()
    return files


def _gather(task: SweepTask, runs: Mapping[str, dict], weights: Mapping[str, bytes] | None = None) -> None:
    """Write the runs a worker returned into this checkout's record, with the packed weights it
    returned (``weights``: path under the data folder -> bytes), unless already there (a worker on
    this machine wrote them itself)."""
    from .experiments import get_config

    variant = get_config(task.experiment, task.profile, task.overrides).record_variant(task.seed)
    for run, data in runs.items():
        record = results.load_record(task.experiment, task.profile, missing_ok=True, variant=variant)
        where = (data.get("weights") or {}).get("path")
        packed = (weights or {}).get(where) if where else None
        target = results.data_dir() / where if where else None
        written = packed is not None and target.is_file() and target.read_bytes() == packed
        files = {target: packed} if packed is not None and not written else {}
        if record is not None and record["runs"].get(run) == data and not files:
            continue
        results.save_run(task.experiment, task.profile, run, data, variant=variant, files=files,
                         **({"overrides": task.overrides} if variant else {}))


# --- executors: submit(task) -> handle; wait(handles) -> handles that finished; result(handle) ----------

#: seconds between a local worker's checks that the sweep which started it is still there
ORPHAN_CHECK_S = 1.0


def _exit_when_orphaned(parent: int, interval: float) -> None:
    """End this worker once ``parent`` (the sweep's process) is gone. A sweep killed by a signal it
    cannot handle (SIGTERM's default, SIGKILL) cannot stop its pool, and the orphan would go on
    training a run that a restarted sweep trains again, both writing the same checkpoint. A
    checkpoint is written whole (a temporary file, then a rename), so ending at any moment loses
    only the steps since the last one."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _init_local_worker(parent: int) -> None:
    import threading

    import torch
    torch.set_num_threads(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent, ORPHAN_CHECK_S), daemon=True,
                     name="qornn-orphan-watch").start()


class LocalExecutor:
    """A process pool: ``jobs`` processes (default: one per core), each with one torch thread. A
    worker that dies (killed, out of memory) breaks the pool: its tasks fail and a new pool is made.
    A worker whose sweep was killed ends itself within :data:`ORPHAN_CHECK_S` seconds."""

    def __init__(self, jobs: int | None = None) -> None:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"jobs must be a positive int (processes), got {jobs!r}")
        self.jobs = jobs or os.cpu_count() or 1
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_local_worker, initargs=(os.getpid(),))

    def submit(self, fn: Callable, task: SweepTask) -> cf.Future:
        try:
            return self._pool.submit(fn, task)
        except cf.process.BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(fn, task)

    def wait(self, handles: list) -> list:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: cf.Future) -> Any:
        return handle.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Ray tasks, ``num_cpus`` / ``num_gpus`` each. Joins the cluster at ``address`` (``"auto"``: the
    one this machine belongs to), or uses a Ray session already started in this process, or starts a
    local one with ``num_cpus`` (default: every core)."""

    def __init__(self, *, address: str | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0,
                 num_cpus: int | None = None) -> None:
        import ray

        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
            ray.init(log_to_driver=False, **kwargs)
            self._started = True
        self._remote = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)(execute_task)
        self._fns: dict[Callable, Any] = {execute_task: self._remote}
        self._options = {"num_cpus": cpus_per_run, "num_gpus": gpus_per_run, "max_retries": 0}

    def submit(self, fn: Callable, task: SweepTask) -> Any:
        if fn not in self._fns:
            self._fns[fn] = self._ray.remote(**self._options)(fn)
        return self._fns[fn].remote(task)

    def wait(self, handles: list) -> list:
        done, _ = self._ray.wait(handles, num_returns=1)
        return done

    def result(self, handle: Any) -> Any:
        return self._ray.get(handle)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


#: the keys of a SLURM config file (``--slurm-config``), with their meaning
SLURM_KEYS = {
    "partition": "the SLURM partition",
    "time": "each job's time limit in minutes (a run cut by it resumes from its checkpoint on a retry)",
    "gpus": "GPUs per job",
    "cpus": "CPUs per job (and torch threads per run)",
    "mem_gb": "memory per job in GB",
    "array_parallelism": "how many jobs of the array run at once",
    "folder": "where submitit writes its logs and pickles",
    "additional": "a mapping of other sbatch options (slurm_additional_parameters)",
}


def load_slurm_config(path: str | Path) -> dict[str, Any]:
    """A SLURM config file (YAML, read with ``yaml.safe_load``): a mapping of :data:`SLURM_KEYS`."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read the SLURM config {path}: {err}") from None
    if not isinstance(config, dict):
        raise ValueError(f"the SLURM config {path} must be a mapping of {', '.join(SLURM_KEYS)}")
    unknown = sorted(set(config) - set(SLURM_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in the SLURM config {path}; valid: "
                         f"{', '.join(SLURM_KEYS)}")
    return config


class SlurmExecutor:
    """submitit: the first tasks go as one job array, retries as single jobs. ``cluster="local"``
    runs them as local processes through submitit's local executor (the tests), None picks SLURM
    where ``sbatch`` exists."""

    def __init__(self, *, partition: str | None = None, time: int = 60, gpus: int = 0, cpus: int = 1,
                 mem_gb: float | None = None, array_parallelism: int = 64, folder: str | Path | None = None,
                 additional: Mapping[str, Any] | None = None, cluster: str | None = None,
                 poll_s: float = 5.0) -> None:
        import submitit

        folder = Path(folder) if folder else results.runs_dir() / "submitit"
        self._executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
        params: dict[str, Any] = {"timeout_min": int(time), "gpus_per_node": int(gpus),
                                  "cpus_per_task": int(cpus), "name": "qornn-sweep",
                                  "slurm_array_parallelism": int(array_parallelism)}
        if partition:
            params["slurm_partition"] = partition
        if mem_gb:
            params["mem_gb"] = mem_gb
        if additional:
            params["slurm_additional_parameters"] = dict(additional)
        self._executor.update_parameters(**params)
        self.poll_s = poll_s
        self._batch: list[tuple[Callable, SweepTask, dict]] = []

    def submit_many(self, fn: Callable, tasks: list[SweepTask]) -> list:
        with self._executor.batch():
            jobs = [self._executor.submit(fn, task) for task in tasks]
        return jobs

    def submit(self, fn: Callable, task: SweepTask) -> Any:
        return self._executor.submit(fn, task)

    def wait(self, handles: list) -> list:
        while True:
            done = [job for job in handles if job.done()]
            if done:
                return done
            time.sleep(self.poll_s)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        pass


def _make_executor(executor: str | Any, options: Mapping[str, Any]) -> Any:
    if not isinstance(executor, str):
        return executor  # an executor object (submit / wait / result / close)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    try:
        if executor == "local":
            return LocalExecutor(**options)
        if executor == "ray":
            return RayExecutor(**options)
        return SlurmExecutor(**options)
    except ImportError as err:
        raise ValueError(f"the {executor} executor needs the cluster extra: pip install -e \".[cluster]\" "
                         f"({err})") from None


def run_sweep(experiment: str, profile: str, *, runs: Sequence[str] | None = None, seeds: Any = None,
              grid: Any = None, overrides: Any = None, executor: str | Any = "local",
              executor_options: Mapping[str, Any] | None = None, retries: int = 1, device: str = "cpu",
              threads: int = 1, rerun_stale: bool = True, progress: bool = True,
              worker: Callable[[SweepTask], dict] = execute_task) -> SweepReport:
    """Plan the sweep (every grid point checked before anything starts), run its tasks on
    ``executor`` with ``retries`` more tries for a task that fails, gather their records, and return
    the :class:`SweepReport` (``report.failed`` lists what still failed). ``worker`` is what each
    task runs (:func:`execute_task`; tests pass one that dies on purpose)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative int, got {retries!r}")
    the_plan = plan(experiment, profile, runs=runs, seeds=seeds, grid=grid, overrides=overrides,
                    device=device, threads=threads, rerun_stale=rerun_stale)
    rows = [{"variant": t.variant, "seed": t.seed, "runs": ",".join(t.runs), "status": "left",
             "attempts": 0, "wall_time_s": None, "host": None, "error": ""} for t in the_plan.tasks]
    report = SweepReport(the_plan, rows)
    if not the_plan.tasks:
        return report
    pool = _make_executor(executor, executor_options or {})
    bar = tqdm(total=len(the_plan.tasks), disable=not progress, desc=f"sweep {experiment}/{profile}",
               unit="task")
    walls: list[float] = []

    def show() -> None:
        done = sum(r["status"] == "done" for r in rows)
        failed = sum(r["status"] == "failed" for r in rows)
        per_run = f"{sum(walls) / len(walls):.1f} s/task" if walls else "-"
        bar.set_postfix_str(f"done {done}, failed {failed}, left {len(rows) - done - failed}, {per_run}")

    started = time.time()
    try:
        if hasattr(pool, "submit_many"):
            handles = dict(zip(pool.submit_many(worker, the_plan.tasks), range(len(rows)), strict=True))
        else:
            handles = {pool.submit(worker, task): i for i, task in enumerate(the_plan.tasks)}
        for i in range(len(rows)):
            rows[i]["attempts"] = 1
        show()
        while handles:
            for handle in pool.wait(list(handles)):
                i = handles.pop(handle)
                task, row = the_plan.tasks[i], rows[i]
                try:
                    out = pool.result(handle)
                    _gather(task, out["runs"], out.get("weights"))
                except Exception as err:  # noqa: BLE001 - a failed run of any kind is retried, then reported
                    lines = str(err).strip().splitlines()
                    # long enough for a diverged run's step, parameters and largest gradient
                    row["error"] = f"{type(err).__name__}: {lines[-1] if lines else ''}"[:1200]
                    if row["attempts"] <= retries:
                        row["attempts"] += 1
                        bar.write(f"retry {row['attempts'] - 1}/{retries}: {task.label} ({row['error']})")
                        handles[pool.submit(worker, task)] = i
                        continue
                    row["status"] = "failed"
                    bar.write(f"FAILED after {row['attempts']} tries: {task.label} ({row['error']})")
                else:
                    row.update(status="done", wall_time_s=out["wall_time_s"], host=out["host"], error="")
                    walls.append(out["wall_time_s"])
                    bar.write(f"done: {task.label} ({out['wall_time_s']:.1f} s on {out['host']})")
                bar.update()
                show()
    finally:
        bar.close()
        pool.close()
        log_sweep(report, executor if isinstance(executor, str) else type(executor).__name__,
                  executor_options or {}, wall_time_s=time.time() - started)
    return report


def sweep_log_path(experiment: str, profile: str) -> Path:
    """``data/sweeps/<experiment>/<profile>.json``: every sweep of that experiment and profile that
    launched anything, in order (apart from ``data/results/``, which holds run records only)."""
    return results.data_dir() / "sweeps" / experiment / f"{profile}.json"


def log_sweep(report: SweepReport, executor: str, options: Mapping[str, Any], *, wall_time_s: float) -> Path:
    """Append what a sweep did to :func:`sweep_log_path` (atomically, under a lock, so two sweeps
    of one experiment never lose an entry): the executor and its options, the seeds and grid, one
    row per task (status, tries, wall time, host, error) and the provenance of the launching code.
    The runs' own numbers stay in their records; this says how the grid ran."""
    import json

    plan_ = report.plan
    path = sweep_log_path(plan_.experiment, plan_.profile)
    entry = {"executor": executor,
             "options": {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool))},
             "seeds": plan_.seeds, "grid_points": plan_.points, "rows": report.rows,
             "skipped": [list(item) for item in plan_.skipped],
             "threads_per_run": plan_.tasks[0].threads if plan_.tasks else None,
             "provenance": results.provenance(profile=plan_.profile, seed=min(plan_.seeds, default=0),
                                              device=plan_.tasks[0].device if plan_.tasks else "cpu",
                                              wall_time_s=wall_time_s)}
    with results._locked(path):
        log = json.loads(path.read_text()) if path.exists() else {"experiment": plan_.experiment,
                                                                  "profile": plan_.profile, "sweeps": []}
        log["sweeps"].append(entry)
        results.atomic_write_json(path, log)
    return path


# --- reading sweeps back -------------------------------------------------------------------------------

def seed_frame(experiment: str, profile: str, seeds: Sequence[int], *, overrides: Any = None,
               metric: str | None = None):
    """One row per (run, seed) recorded at ``seeds`` (of the variant ``overrides`` make): the seed,
    each test metric (or only ``metric``) and the wall time, from each seed's record; for a mean ±
    std over seeds, ``frame.groupby("run")[metric].agg(["mean", "std", "count"])``. Seeds not
    recorded are left out (``count`` says how many there are)."""
    import pandas as pd

    from .experiments import get_config

    cfg = get_config(experiment, profile, overrides)
    rows = []
    for seed in parse_seeds(seeds):
        record = results.load_record(experiment, profile, missing_ok=True, variant=cfg.record_variant(seed))
        for run, data in (record or {"runs": {}})["runs"].items():
            test = data["test"] if metric is None else {metric: data["test"][metric]}
            rows.append({"run": run, "seed": data["provenance"]["seed"], **test,
                         "wall_time_s": data["provenance"]["wall_time_s"]})
    return pd.DataFrame(rows)


def _timed_starts(prov: dict[str, Any]) -> list[tuple[str, str | None, float]]:
    """(device, device name, seconds) of each start of a run, where every start recorded its device
    and time (a run resumed on a GPU and then a CPU counts each part on its own device); else the
    whole run on the device of its last start (starts made before commit d50f5945, on the evening of
    2026-12-04, recorded no time)."""
    segments = prov.get("segments") or []
    if segments and all(seg.get("device") and seg.get("wall_time_s") is not None for seg in segments):
        return [(seg["device"], seg.get("device_name"), seg["wall_time_s"]) for seg in segments]
    return [(prov["device"], prov.get("device_name"), prov["wall_time_s"])]


def _device_spans(segments: Sequence[Mapping[str, Any]]) -> str:
    """"steps 0–22,200 on NVIDIA H200, 22,200–26,200 on the CPU": the steps of a run's starts,
    consecutive starts on the same kind of device together."""
    spans: list[list] = []
    for seg in segments:
        kind = results.device_kind(seg.get("device", ""))
        where = "the CPU" if kind == "cpu" else seg.get("device_name") or kind
        if spans and spans[-1][2] == where:
            spans[-1][1] = seg["to_step"]
        else:
            spans.append([seg["from_step"], seg["to_step"], where])
    return "steps " + ", ".join(f"{start:,}–{end:,} on {where}" for start, end, where in spans)


def record_cost(experiment: str, profile: str) -> dict[str, Any]:
    """What the recorded runs of ``experiment`` at ``profile`` cost, summed from their provenance
    over every record (the profile's, its variants', every seed's): runs, CPU-hours (each run's wall
    time × its torch threads, read from the recorded ``device_name``), GPU-hours (wall time of the
    runs on a CUDA device), each start on its own device where the starts recorded their times
    (:func:`_timed_starts`). None where nothing is recorded. ``on_last_device``: the runs whose starts
    ran on more than one kind of device but recorded no time of their own, so that all their time
    counts on their last start's device, each in words."""
    folder = results.results_dir() / experiment
    paths = [folder / f"{profile}.json", *sorted((folder / "variants" / profile).glob("*.json"))]
    runs, cpu_s, gpu_s = 0, 0.0, 0.0
    on_last_device = []
    for path in paths:
        if not path.exists():
            continue
        variant = "" if path.parent == folder else path.stem
        for run, data in results.load_record(experiment, profile, variant=variant)["runs"].items():
            prov = data["provenance"]
            runs += 1
            starts = _timed_starts(prov)
            if len(starts) == 1 and len(results.device_kinds(prov)) > 1:
                on_last_device.append(f"`{experiment}` / `{run}`" + (f" ({variant})" if variant else "")
                                      + f" at the `{profile}` profile ({_device_spans(prov['segments'])}): "
                                      f"all its {prov['wall_time_s'] / 3600:.1f} h count on "
                                      f"{results.device_label(prov.get('device_name')) or prov['device']}")
            for device, name, seconds in starts:
                if str(device).startswith("cuda"):
                    gpu_s += seconds
                else:
                    cpu_s += seconds * (results.device_threads(name) or 1)
    if not runs:
        return {"runs": 0, "cpu_hours": None, "gpu_hours": None, "on_last_device": []}
    return {"runs": runs, "cpu_hours": cpu_s / 3600, "gpu_hours": gpu_s / 3600,
            "on_last_device": on_last_device}


def grid_costs(profiles: Sequence[str] = ("cpu", "paper")):
    """A table of every experiment of every paper module (:data:`qornn.experiments.PAPERS`) at
    ``profiles``: the runs its grid has per seed and per grid point, how many are recorded, and what
    the recorded ones cost (:func:`record_cost`): CPU-hours, GPU-hours and CPU-hours per run, None
    where nothing is recorded. ``frame.attrs["on_last_device"]``: the runs counted on their last
    start's device although they ran on more than one (:func:`record_cost`)."""
    import pandas as pd

    from .experiments import PAPERS, get_config

    rows, on_last_device = [], []
    for paper in PAPERS:
        for experiment, spec in paper.EXPERIMENTS.items():
            for profile in profiles:
                if profile not in spec["profiles"]:
                    continue
                cost = record_cost(experiment, profile)
                on_last_device += cost["on_last_device"]
                per_run = cost["cpu_hours"] / cost["runs"] if cost["runs"] and cost["cpu_hours"] else None
                rows.append({"chapter": paper.__name__.rsplit(".", 1)[-1], "experiment": experiment,
                             "profile": profile, "runs per seed": len(get_config(experiment, profile).models),
                             "runs recorded": cost["runs"], "CPU-hours": cost["cpu_hours"],
                             "GPU-hours": cost["gpu_hours"], "CPU-hours per run": per_run})
    frame = pd.DataFrame(rows)
    frame.attrs["on_last_device"] = on_last_device
    return frame
