"""Import time of sim_servicenow, each run in a fresh interpreter."""

from __future__ import annotations

import attrs

from ._common import median, run_python

#: Timed inside the fresh interpreter, so interpreter start-up is not counted.
_PROBE = "import time\nstarted = time.perf_counter()\n{statement}\nprint((time.perf_counter() - started) * 1000)\n"
#: ``import sim_servicenow`` re-exports lazily; this is what a script that runs the engine imports first.
ENGINE_IMPORT = "from sim_servicenow import IntegrationConfig, IntegrationEngine, ServiceNowClient"


@attrs.frozen
class ImportResult:
    """Median milliseconds of each import in a fresh interpreter.

    Attributes:
        package_ms: ``import sim_servicenow``.
        engine_ms: :data:`ENGINE_IMPORT` (the engine, both clients and the mapping layer).
        runs: interpreters started per figure.
    """

    package_ms: float
    engine_ms: float
    runs: int


def import_ms(statement: str, runs: int) -> float:
    """Median milliseconds ``statement`` takes in ``runs`` fresh interpreters."""
    times = []
    for _ in range(runs):
        output = run_python(["-c", _PROBE.format(statement=statement)])
        times.append(float(output.strip().splitlines()[-1]))
    return median(times)


def measure_imports(runs: int) -> ImportResult:
    """``import sim_servicenow`` and the engine's imports, median of ``runs`` fresh interpreters each."""
    return ImportResult(
        package_ms=import_ms("import sim_servicenow", runs), engine_ms=import_ms(ENGINE_IMPORT, runs), runs=runs
    )
