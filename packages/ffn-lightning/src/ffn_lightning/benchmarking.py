"""Benchmark helpers shared by the study's benchmark scripts: interleaved timing, tables, BENCHMARKS.md.

Speed is reported as a ratio against a baseline measured in the same run: the candidates are timed in
interleaved rounds (each round calls every candidate once, in a rotating order), so a burst of load on
a shared machine hits all of them alike, and the median over rounds is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from rich.table import Table

__all__ = [
    "RESULTS_DIR",
    "EpochTimer",
    "RunStore",
    "console_table",
    "first_batch",
    "fit_timed",
    "interleaved_latency",
    "machine_description",
    "markdown_table",
    "mean_std",
    "measured_section",
    "measured_template",
    "measurement",
    "measurement_arguments",
    "paired_bootstrap_interval",
    "parameter_count",
    "peak_memory_bytes",
    "provenance",
    "quiet_trainer",
    "section_template",
    "size_for_parameters",
    "train_missing",
    "update_markdown_section",
]


class EpochTimer(Callback):
    """Wall-clock seconds of every training epoch (``seconds``), for time-per-epoch columns."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    @property
    def mean(self) -> float:
        """Mean seconds per timed epoch (0 if none finished)."""
        return sum(self.seconds) / len(self.seconds) if self.seconds else 0.0


def size_for_parameters(
    build: Callable[[int], torch.nn.Module],
    target: int,
    low: int = 1,
    measure: Callable[[torch.nn.Module], int] | None = None,
) -> int:
    """The size ``s >= low`` whose ``build(s)`` has the parameter count closest to ``target``.

    Used to compare models at matched parameter budgets; ``measure`` counts something else instead (the
    study's ``--match flops``: FLOPs of one forward). Assumes the count grows with ``s``: the upper
    bound doubles until it passes ``target``, then bisection narrows to the two neighbours.
    """
    counts: dict[int, int] = {}

    def count(size: int) -> int:
        if size not in counts:
            module = build(size)
            counts[size] = (measure or parameter_count)(module)
        return counts[size]

    high = 2 * low
    while count(high) < target and high < 1 << 16:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count(mid) <= target else (low, mid)
    return min((low, high), key=lambda size: abs(count(size) - target))


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters (every element of every parameter, trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def quiet_trainer(**options: Any) -> Trainer:
    """A `Trainer` for benchmark runs: no logger, progress bar or model summary; checkpoints only when
    a `ModelCheckpoint` is among ``callbacks``. ``options`` are any Trainer arguments and win."""
    callbacks = options.get("callbacks") or []
    quiet = {
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": any(isinstance(callback, ModelCheckpoint) for callback in callbacks),
    }
    return Trainer(**{**quiet, **options})


def fit_timed(
    module: LightningModule, data: Any, epochs: int, seed: int = 0, **options: Any
) -> tuple[Trainer, float]:
    """Fit quietly (`quiet_trainer`) from ``seed``; returns the trainer and the seconds ``fit`` took.
    ``options`` are further Trainer arguments."""
    torch.manual_seed(seed)
    trainer = quiet_trainer(max_epochs=epochs, **options)
    start = time.perf_counter()
    trainer.fit(module, data)
    return trainer, time.perf_counter() - start


def train_missing(
    builders: Mapping[str, Callable[[], torch.nn.Module] | None],
    setting: Mapping[str, Any],
    store: RunStore,
    train: Callable[[torch.nn.Module, int], dict[str, float]],
    seeds: int,
    console: Any = None,
) -> dict[str, list[dict[str, Any]]]:
    """Train what ``store`` lacks: for seeds 0…``seeds``-1, build every network (initialized from the
    seed) whose record ``{**setting, "model": name, "seed": seed}`` is not stored, ``train(network,
    seed)`` it and store the record at once (an interrupted run keeps what it finished). ``store``'s
    fields are ``setting``'s, ``model`` and ``seed``. A builder of None names a network that cannot be
    built here (an optional package not installed): nothing of it trains, and it is returned only when
    every seed of it is stored. Returns each network's records, in seed order, in ``builders`` order.
    ``console`` (a rich Console) reports each training."""
    grid = [{**setting, "model": name, "seed": seed} for seed in range(seeds) for name in builders]
    for point in store.missing(grid):
        build = builders[point["model"]]
        if build is None:
            continue
        torch.manual_seed(point["seed"])
        network = build()
        if console is not None:
            console.print(
                f"training {point['model']} ({parameter_count(network):,} parameters, seed {point['seed']})"
            )
        store.put({**point, **train(network, point["seed"])})
    found: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in builders}
    for run in store.select(**setting):
        if run["model"] in found and run["seed"] < seeds:
            found[run["model"]][run["seed"]] = run
    return {name: [runs[seed] for seed in range(seeds)] for name, runs in found.items() if len(runs) == seeds}


def first_batch(datamodule: Any, stage: str = "fit") -> Any:
    """The first batch of a DataModule's loader for ``stage`` (``fit``: training, ``test``: test),
    after its ``prepare_data`` and ``setup``: one real batch of an app, for timing and counting."""
    datamodule.prepare_data()
    datamodule.setup(stage)
    loader = datamodule.train_dataloader() if stage == "fit" else datamodule.test_dataloader()
    return next(iter(loader))


def peak_memory_bytes(fn: Callable[[], Any], device: torch.device | str = "cpu") -> int:
    """Peak bytes allocated by ``fn()`` beyond what was live when it started (its outputs included).

    CUDA: the caching allocator's peak counter. CPU: torch's profiler records every allocation and
    free; the peak of their running sum is the answer (exact, unlike process RSS, and unaffected by
    other processes on the machine).
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, profile_memory=True) as profiler:
        fn()
    events = profiler.profiler.kineto_results.events()  # type: ignore[union-attr]
    changes = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in changes:
        live += nbytes
        peak = max(peak, live)
    return peak


def interleaved_latency(
    cases: Mapping[str, Callable[[], Any]],
    *,
    rounds: int = 7,
    warmup: int = 1,
    on_call: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Median wall time in seconds of each zero-argument callable, timed in interleaved rounds.

    Args:
        cases: name → callable to time.
        rounds: timed rounds; each calls every case once, starting one case later than the last round,
            and every other cycle of ``len(cases)`` rounds runs backwards, so no case always runs right
            after the same neighbour (whose cache state or size would bias it).
        warmup: untimed rounds first (allocator, thread pool and cache warm-up).
        on_call: called with the case name after each timed or untimed call (progress reporting).
    """
    if rounds < 1:
        raise ValueError(f"interleaved_latency: rounds={rounds} must be >= 1")
    names = list(cases)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        order = names[shift:] + names[:shift]
        if (round_index // len(names)) % 2:  # every other cycle backwards: a case follows both neighbours
            order.reverse()
        for name in order:
            start = time.perf_counter()
            cases[name]()
            elapsed = time.perf_counter() - start
            if round_index >= warmup:
                samples[name].append(elapsed)
            if on_call is not None:
                on_call(name)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine_description() -> str:
    """One line naming the CPU, the cores and the torch build the numbers were taken with."""
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    return (
        f"{cpu}; {os.cpu_count()} logical cores; torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads"
    )


RESULTS_DIR = Path("docs/bench-results")
"""Where the benchmarks keep their finished runs by default: tracked in git, unlike ``runs/``."""


class RunStore:
    """Finished benchmark runs, in one JSON file.

    The benchmarks keep their runs in tracked files under `RESULTS_DIR`, because they take minutes to
    hours on a CPU: an interrupted bench resumes, a later session adds seeds to the same table, and
    BENCHMARKS.md is regenerated without retraining. Every write re-reads the file and replaces it
    atomically under an exclusive lock (``<file>.lock``, `filelock`: ``flock`` on POSIX, ``msvcrt`` on
    Windows), so benches running in other processes may write to it at the same time without losing
    each other's runs.

    Every run that is a dict is stored with where and when it was measured: ``machine``
    (`machine_description`) and ``date`` (ISO), unless it names them itself (a GPU run names its
    device); a section shows the machines and the newest date of the runs in it (`provenance`), so it
    reads the same wherever and whenever it is rendered.

    A store declared with ``fields`` holds structured records: each run is a dict that names its
    setting in those fields (``dataset``, ``model``, ``seed``, ...) beside its results. `put` files a
    record under the key its fields make, `missing` says which settings of a grid are not stored yet,
    `select` finds records by field values; nothing parses keys. (A store without ``fields`` maps keys
    the bench chooses to runs.)

    Args:
        path: the JSON file (created with its folder on the first `put`).
        fields: the names that identify a run, in key order.
    """

    def __init__(self, path: str | Path, fields: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.fields = tuple(fields)

    def load(self) -> dict[str, Any]:
        """Every stored run by key, read from the file now."""
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def __contains__(self, key: str) -> bool:
        return key in self.load()

    def __getitem__(self, key: str) -> Any:
        runs = self.load()
        if key not in runs:
            raise KeyError(f"{self.path}: no stored run {key!r} (run the bench that produces it)")
        return runs[key]

    def key(self, record: Mapping[str, Any]) -> str:
        """The key of a record (or of a grid point): its ``fields`` values joined by ``/``; a float
        as ``format(value, "g")`` where that reads back exactly (0.0 as ``0``, 5e-06 as ``5e-06``)."""
        if not self.fields:
            raise TypeError(f"{self.path}: a store without fields files runs by key: put(key, run)")
        absent = [name for name in self.fields if name not in record]
        if absent:
            raise ValueError(f"{self.path}: record {dict(record)} lacks the field(s) {', '.join(absent)}")
        values = [_key_part(record[name]) for name in self.fields]
        if any("/" in value for value in values):
            raise ValueError(f"{self.path}: a field value may not contain '/': {values}")
        return "/".join(values)

    def put(self, key: str | Mapping[str, Any], run: Any = None) -> None:
        """Store ``run`` under ``key``, or one structured record (``put(record)``), replacing an earlier
        run of the same key, without losing others' writes."""
        if not isinstance(key, str):
            key, run = self.key(key), dict(key)
        if isinstance(run, Mapping):
            run = {"machine": machine_description(), "date": dt.date.today().isoformat(), **run}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path.with_name(self.path.name + ".lock")):  # one read-modify-write at a time
            runs = {**self.load(), key: run}
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(json.dumps(runs, indent=1) + "\n")
            partial.replace(self.path)

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, with its fields (taken from its key where a record lacks one)."""
        records = []
        for key, run in self.load().items():
            fields = (
                dict(zip(self.fields, self.split_key(key, self.fields), strict=True)) if self.fields else {}
            )
            records.append({**fields, **run})
        return records

    def missing(self, grid: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The settings of ``grid`` (dicts of the store's fields) that no stored run has, in order."""
        stored = self.load()
        return [point for point in grid if self.key(point) not in stored]

    def select(self, **values: Any) -> list[dict[str, Any]]:
        """The stored records whose fields equal ``values`` (all of them; none given: every record)."""
        return [r for r in self.records() if all(r.get(name) == value for name, value in values.items())]

    def split_key(self, key: str, fields: Sequence[str]) -> list[str]:
        """``key``'s ``/``-separated parts, one per name in ``fields``; a one-line error otherwise."""
        parts = key.split("/")
        if len(parts) != len(fields):
            raise ValueError(
                f"{self.path}: stored key {key!r} has {len(parts)} '/'-separated fields, expected "
                f"{len(fields)} ({'/'.join(fields)}); was it written by another version of this bench?"
            )
        return parts


def measurement_arguments(parser: Any, store: str) -> None:
    """Add a timing bench's ``--results`` (its `RunStore`, default ``RESULTS_DIR/<store>.json``) and
    ``--from-store`` (rewrite the section from the stored run, measuring nothing) to ``parser``."""
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR / f"{store}.json", help="the store of measured runs"
    )
    parser.add_argument(
        "--from-store",
        action="store_true",
        help="rewrite the section from the run stored for these settings, measuring nothing",
    )


def measurement(
    store: RunStore, setting: Mapping[str, Any], measure: Callable[[], Mapping[str, Any]], from_store: bool
) -> dict[str, Any]:
    """The run of a timing bench at ``setting`` (its store's fields): ``measure()`` now and stored with
    the setting, or, ``from_store``, the one stored before (a one-line error where there is none)."""
    if not from_store:
        store.put({**setting, **measure()})
    found = store.select(**setting)
    if not found:  # the user's mistake: one line and exit status 2, as every console script's
        print(
            f"error: {store.path}: no run stored for {dict(setting)} (measure it: omit --from-store)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return found[0]


def measured_section(
    args: Any,
    fields: Sequence[str],
    measure: Callable[[], Mapping[str, Any]],
    render: Callable[[dict[str, Any]], str],
    section: str,
) -> dict[str, Any]:
    """A timing bench's end: its run at the settings ``fields`` names in ``args`` (`measurement`, into
    the store ``args.results``, or from it with ``args.from_store``), rendered by ``render`` into the
    section ``section`` of ``args.output`` (skipped when empty) and printed. Returns the run."""
    store = RunStore(args.results, fields=fields)
    run = measurement(store, {name: getattr(args, name) for name in fields}, measure, args.from_store)
    body = render(run)
    print(body)
    if args.output:
        update_markdown_section(args.output, section, body, run["date"])
    return run


def measured_template(
    module_file: str | Path,
    name: str,
    program: str,
    fields: Sequence[str],
    run: Mapping[str, Any],
    **values: Any,
) -> str:
    """`section_template` for a stored timing run: ``$command`` (``program`` with the run's settings
    as ``--field value`` options), ``$machine`` and each setting in ``fields`` come from ``run``."""
    command = " ".join([program, *(f"--{field} {run[field]}" for field in fields)])
    settings = {field: run[field] for field in fields}
    return section_template(module_file, name, command=command, machine=run["machine"], **settings, **values)


def provenance(runs: Iterable[Mapping[str, Any]]) -> tuple[str, str | None]:
    """The machines (sorted, ``; ``-joined) and the newest date of the stored runs a section shows,
    for its machine line and its date stamp (`update_markdown_section`'s ``updated``). Runs stored
    before runs named them (hand-written stores) count as ``machine not recorded`` and no date."""
    runs = list(runs)
    machines = sorted({run.get("machine", "machine not recorded") for run in runs})
    dates = [run["date"] for run in runs if "date" in run]
    return "; ".join(machines), max(dates, default=None)


def _key_part(value: Any) -> str:
    if isinstance(value, float):
        short = format(value, "g")
        return short if float(short) == value else repr(value)
    return str(value)


def section_template(module_file: str | Path, name: str, **values: Any) -> str:
    """A BENCHMARKS.md section from its template: ``<name>.md`` beside the benchmark's module
    (``module_file``, its ``__file__``), the methodology prose with ``$fields`` (the command, machine,
    tables) filled from ``values`` (`string.Template`; a field left unfilled is an error)."""
    path = Path(module_file).with_name(f"{name}.md")
    return string.Template(path.read_text()).substitute({k: str(v) for k, v in values.items()})


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± std`` of per-seed values (sample std); the value alone for one seed, which has no spread."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def paired_bootstrap_interval(
    differences: Sequence[float], level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of paired differences (one per seed) and its percentile bootstrap interval at ``level``.

    The seeds are resampled with replacement ``resamples`` times (a fixed generator: the same numbers
    give the same interval); returns ``(mean, low, high)``. With fewer than two differences there is
    no spread to resample and the interval is ``(nan, nan)``.
    """
    values = torch.tensor(list(differences), dtype=torch.float64)
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(values), (resamples, len(values)), generator=generator)
    means = values[picks].mean(dim=1)
    tail = (1.0 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64)).tolist()
    return mean, low, high


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table: the first column left-aligned, the others right-aligned."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def console_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """The same table as `markdown_table`, as a rich Table for the terminal."""
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def update_markdown_section(path: str | Path, key: str, body: str, updated: str | None = None) -> None:
    """Write ``body`` between ``<!-- key:start -->`` and ``<!-- key:end -->`` in ``path``.

    The section is replaced where it exists and appended otherwise, so several benchmarks share one
    BENCHMARKS.md without overwriting each other. A date line is added at the top of the section:
    ``updated`` (the newest stored run it shows, `provenance`), else today.
    """
    path = Path(path)
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    stamp = f"_Updated {updated or dt.date.today().isoformat()}._\n\n"
    block = f"{start}\n{stamp}{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
