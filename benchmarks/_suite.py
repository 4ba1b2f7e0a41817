"""The suite behind ``benchmarks/run.py``: sizes, targets, the run, the table and the JSON file."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ._create import CreateResult, measure_create
from ._imports import ENGINE_IMPORT, ImportResult, measure_imports
from ._mapping import MappingResult, measure_mapping
from ._memory import MemoryResult, measure_memory
from ._poll import PollResult, measure_poll

#: How long the fake waits before serving each insert in the creation comparison's latency variant: a modest
#: figure for a ServiceNow Table API insert (network, business rules, workflow start).
INSTANCE_LATENCY = 0.1


@attrs.frozen
class Sizes:
    """How big and how often each measurement runs.

    Attributes:
        poll_tickets: the numbers of open tickets polled (one full comparison each).
        poll_rounds: timed rounds per contender of the polling comparison.
        naive_rounds: timed rounds of the naive script (one GET per ticket: slow by design).
        create_plans: plans (one ticket each) per contender and round of the creation comparison.
        create_rounds: timed rounds of the creation comparison.
        latency_plans: plans per contender of the creation comparison repeated with :data:`INSTANCE_LATENCY`
            (a detail: what concurrency buys against a remote instance).
        memory_plans: the smaller and the larger number of tracked plans of the memory comparison.
        mapping_plans: distinct plans per timed rendering pass.
        mapping_lookups: status values per timed lookup pass.
        mapping_rounds: timed passes of the mapping measurements.
        import_runs: fresh interpreters per import figure.
    """

    poll_tickets: tuple[int, ...]
    poll_rounds: int
    naive_rounds: int
    create_plans: int
    create_rounds: int
    latency_plans: int
    memory_plans: tuple[int, int]
    mapping_plans: int
    mapping_lookups: int
    mapping_rounds: int
    import_runs: int


FULL = Sizes(
    poll_tickets=(1_000, 10_000),
    poll_rounds=5,
    naive_rounds=3,
    create_plans=1_000,
    create_rounds=3,
    latency_plans=100,
    memory_plans=(10_000, 100_000),
    mapping_plans=2_000,
    mapping_lookups=200_000,
    mapping_rounds=5,
    import_runs=5,
)
QUICK = Sizes(
    poll_tickets=(2_000,),
    poll_rounds=2,
    naive_rounds=1,
    create_plans=150,
    create_rounds=1,
    latency_plans=8,
    memory_plans=(2_000, 20_000),
    mapping_plans=500,
    mapping_lookups=50_000,
    mapping_rounds=3,
    import_runs=5,
)


@attrs.frozen
class Target:
    """A figure's target: ``value <= limit`` (``at_most``) or ``value >= limit``.

    Attributes:
        key: the figure's dotted key.
        limit: the threshold.
        at_most: whether lower is better.
        unit: how the figure is shown.
    """

    key: str
    limit: float | None
    at_most: bool = True
    unit: str = "x"

    def met(self, value: float) -> bool | None:
        """Whether ``value`` meets the target (``None`` without one)."""
        if self.limit is None:
            return None
        return value <= self.limit if self.at_most else value >= self.limit

    def describe(self) -> str:
        if self.limit is None:
            return "-"
        return f"{'<=' if self.at_most else '>='} {_number(self.limit, self.unit)}"


TARGETS = (
    Target("poll.requests_per_100", 1.2, unit=""),
    Target("poll.vs_floor", 1.5),
    Target("poll.speedup_vs_naive", 20, at_most=False),
    Target("poll.vs_pysnc", 1.0),
    Target("create.speedup_vs_pysnc", 2.5, at_most=False),
    Target("memory.rss_ratio_100k_10k", 1.5),
    Target("mapping.plans_per_s", 5_000, at_most=False, unit="/s"),
    Target("mapping.status_lookups_per_s", None, at_most=False, unit="/s"),
    Target("import_ms", 250, unit=" ms"),
)


@attrs.frozen
class Results:
    """Everything one run measured.

    Attributes:
        poll: one comparison per number of tickets.
        create: the creation comparison.
        create_latency: the creation comparison against a fake that answers each insert after
            :data:`INSTANCE_LATENCY`.
        memory: the memory comparison.
        mapping: the mapping throughput.
        imports: the import times.
        seconds: how long the run took.
        quick: whether this was a ``--quick`` run.
    """

    poll: tuple[PollResult, ...]
    create: CreateResult
    create_latency: CreateResult
    memory: MemoryResult
    mapping: MappingResult
    imports: ImportResult
    seconds: float
    quick: bool

    def figures(self) -> dict[str, Any]:
        """The figures under their keys, as nested objects.

        With several poll sizes each poll figure is the least favourable one (the largest ratio against the
        engine, the smallest speed-up), so a PASS holds at every size.
        """
        return {
            "poll": {
                "requests_per_100": max(p.requests_per_100 for p in self.poll),
                "vs_floor": max(p.vs_floor for p in self.poll),
                "speedup_vs_naive": min(p.speedup_vs_naive for p in self.poll),
                "vs_pysnc": max(p.vs_pysnc for p in self.poll),
            },
            "create": {"speedup_vs_pysnc": self.create.speedup_vs_pysnc},
            "memory": {"rss_ratio_100k_10k": self.memory.rss_ratio},
            "mapping": {
                "plans_per_s": self.mapping.plans_per_s,
                "status_lookups_per_s": self.mapping.status_lookups_per_s,
            },
            "import_ms": self.imports.package_ms,
        }

    def details(self) -> dict[str, Any]:
        """Raw timings behind the figures."""
        return {
            "poll": [
                {
                    "tickets": p.tickets,
                    "seconds": p.seconds,
                    "requests": p.requests,
                    "rounds": p.rounds,
                    "requests_per_100": p.requests_per_100,
                    "vs_floor": p.vs_floor,
                    "speedup_vs_naive": p.speedup_vs_naive,
                    "vs_pysnc": p.vs_pysnc,
                    "us_per_ticket": {name: 1e6 * seconds / p.tickets for name, seconds in p.seconds.items()},
                    "engine_breakdown_seconds": p.breakdown,
                }
                for p in self.poll
            ],
            "create": _create_details(self.create),
            "create_with_latency": _create_details(self.create_latency),
            "memory": {
                size: {
                    "plans": sample.plans,
                    "peak_kib": sample.peak_kib,
                    "before_cycle_kib": sample.before_kib,
                    "cycle_kib": sample.cycle_kib,
                    "cycle_seconds": sample.seconds,
                    "store_on_ram_disk": sample.ram_disk,
                }
                for size, sample in (("small", self.memory.small), ("large", self.memory.large))
            },
            "mapping": {"plans": self.mapping.plans, "lookups": self.mapping.lookups},
            "imports": {"package_ms": self.imports.package_ms, "engine_ms": self.imports.engine_ms},
        }

    def to_json(self, command: str) -> dict[str, Any]:
        """The figures, with ``details`` and ``run`` (what ran, where, for how long)."""
        return {
            **self.figures(),
            "details": self.details(),
            "run": {
                "command": command,
                "quick": self.quick,
                "seconds": self.seconds,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
        }


def _create_details(result: CreateResult) -> dict[str, Any]:
    return {
        "plans": result.plans,
        "latency_seconds": result.latency,
        "seconds": result.seconds,
        "rounds": result.rounds,
        "speedup_vs_pysnc": result.speedup_vs_pysnc,
        "speedup_c4_vs_c1": result.seconds["engine_c1"] / result.seconds["engine_c4"],
        "ms_per_ticket": {name: 1e3 * seconds / result.plans for name, seconds in result.seconds.items()},
    }


def run(sizes: Sizes, *, quick: bool = False, progress: Callable[[str], None] | None = None) -> Results:
    """Run every measurement at ``sizes``."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    polls = []
    for tickets in sizes.poll_tickets:
        say(f"polling {tickets:,} open tickets")
        polls.append(measure_poll(tickets, rounds=sizes.poll_rounds, naive_rounds=sizes.naive_rounds))
    say(f"creating tickets for {sizes.create_plans:,} plans")
    create = measure_create(sizes.create_plans, rounds=sizes.create_rounds)
    say(f"creating tickets for {sizes.latency_plans:,} plans, {1000 * INSTANCE_LATENCY:.0f} ms per insert")
    create_latency = measure_create(sizes.latency_plans, rounds=1, latency=INSTANCE_LATENCY)
    small, large = sizes.memory_plans
    say(f"peak RSS of a poll cycle over {small:,} and {large:,} tracked plans")
    memory = measure_memory(small, large)
    say("mapping throughput")
    mapping = measure_mapping(sizes.mapping_plans, lookups=sizes.mapping_lookups, rounds=sizes.mapping_rounds)
    say("import time")
    imports = measure_imports(sizes.import_runs)
    return Results(
        poll=tuple(polls),
        create=create,
        create_latency=create_latency,
        memory=memory,
        mapping=mapping,
        imports=imports,
        seconds=time.perf_counter() - started,
        quick=quick,
    )


# -- presentation ----------------------------------------------------------------------------------------------


def flatten(figures: dict[str, Any]) -> dict[str, float]:
    """``{"poll": {"vs_floor": 1.2}}`` -> ``{"poll.vs_floor": 1.2}``."""
    flat: dict[str, float] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": float(number) for inner, number in value.items()})
        else:
            flat[key] = float(value)
    return flat


def _number(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == " ms":
        return f"{value:.0f} ms"
    text = f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return text + unit


def table_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """``(figure, value, target, verdict)`` per figure, in :data:`TARGETS` order."""
    flat = flatten(results.figures())
    rows = []
    for target in TARGETS:
        value = flat[target.key]
        met = target.met(value)
        verdict = "-" if met is None else ("PASS" if met else "MISS")
        rows.append((target.key, _number(value, target.unit), target.describe(), verdict))
    return rows


def detail_rows(results: Results) -> list[tuple[str, str]]:
    """``(what, measured)`` lines behind the figures."""
    rows = []
    for poll in results.poll:
        timings = ", ".join(f"{name} {1e3 * seconds:,.0f} ms" for name, seconds in poll.seconds.items())
        rows.append((f"poll N={poll.tickets:,}", timings))
        total = sum(poll.breakdown.values())
        parts = sorted(poll.breakdown.items(), key=lambda item: -item[1])
        rows.append(
            (
                f"poll N={poll.tickets:,} engine cycle",
                ", ".join(f"{name} {100 * seconds / total:.0f}%" for name, seconds in parts),
            )
        )
        rows.append(
            (
                f"poll N={poll.tickets:,} ratios",
                f"req/100 {poll.requests_per_100:.2f}, vs floor {poll.vs_floor:.2f}, "
                f"naive/engine {poll.speedup_vs_naive:.2f}, engine/pysnc {poll.vs_pysnc:.2f}",
            )
        )
    for create in (results.create, results.create_latency):
        latency = f", {1000 * create.latency:.0f} ms per insert" if create.latency else ""
        rows.append(
            (
                f"create {create.plans:,} tickets{latency}",
                ", ".join(f"{name} {seconds:.2f} s" for name, seconds in create.seconds.items())
                + f"; pysnc/engine_c4 {create.speedup_vs_pysnc:.2f}",
            )
        )
    for sample in (results.memory.small, results.memory.large):
        rows.append(
            (
                f"memory {sample.plans:,} plans",
                f"peak {sample.peak_kib / 1024:.1f} MiB (cycle +{sample.cycle_kib / 1024:.1f} MiB, "
                f"{sample.seconds:.1f} s)",
            )
        )
    rows.append(("import engine", f"{results.imports.engine_ms:.0f} ms ({ENGINE_IMPORT})"))
    rows.append(("run", f"{results.seconds:.0f} s{' (--quick)' if results.quick else ''}"))
    return rows


def print_report(results: Results) -> None:
    """Print the figures (a rich table when rich is installed) and the timings behind them."""
    rows = table_rows(results)
    details = detail_rows(results)
    try:
        from rich.console import Console, JustifyMethod
        from rich.table import Table
    except ImportError:
        width = max(len(row[0]) for row in rows)
        print(f"{'figure':<{width}}  {'value':>12}  {'target':>10}  result")
        for key, value, target, verdict in rows:
            print(f"{key:<{width}}  {value:>12}  {target:>10}  {verdict}")
        print()
        for what, measured in details:
            print(f"{what}: {measured}")
        return
    table = Table(title="sim-servicenow benchmarks")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("figure", "left"),
        ("value", "right"),
        ("target", "right"),
        ("result", "center"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for key, value, target, verdict in rows:
        style = {"PASS": "green", "MISS": "red"}.get(verdict, "")
        table.add_row(key, value, target, f"[{style}]{verdict}[/]" if style else verdict)
    console = Console()
    console.print(table)
    for what, measured in details:
        console.print(f"[bold]{what}[/]: {measured}", highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None, *, sizes: Sizes | None = None) -> int:
    """Run the benchmarks, print the table, write ``--json``. Exit status 0 even if a target is missed.

    ``sizes`` overrides the sizes ``--quick`` picks (the smoke test runs a tiny configuration).
    """
    parser = argparse.ArgumentParser(description="sim-servicenow benchmarks (see docs/performance.md)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute; the same keys")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures to PATH as JSON")
    args = parser.parse_args(argv)
    if sizes is None:
        sizes = QUICK if args.quick else FULL
    results = run(sizes, quick=args.quick, progress=lambda message: print(f"... {message}", file=sys.stderr))
    for key, value in flatten(results.figures()).items():
        if not math.isfinite(value):
            raise SystemExit(f"{key} is not a finite number: {value}")
    print_report(results)
    if args.json is not None:
        command = " ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])
        args.json.write_text(json.dumps(results.to_json(command), indent=2) + "\n", encoding="utf-8")
    return 0
