"""The benchmark suite still runs: every measurement at a tiny size, through the command line, into JSON.

No timing is asserted (this machine's speed is not the point); the figures must exist under their keys, be
finite, and the request counts — which do not depend on speed — must be what each contender is built to send.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pysnc")
pytest.importorskip("trustme")

ROOT = Path(__file__).resolve().parent.parent

KEYS = {
    "poll": {"requests_per_100", "vs_floor", "speedup_vs_naive", "vs_pysnc"},
    "create": {"speedup_vs_pysnc"},
    "memory": {"rss_ratio_100k_10k"},
    "mapping": {"plans_per_s", "status_lookups_per_s"},
}


def test_a_tiny_run_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    bench: Any = importlib.import_module("benchmarks.run")
    tiny = bench.Sizes(
        poll_tickets=(150,),
        poll_rounds=1,
        naive_rounds=1,
        create_plans=4,
        create_rounds=1,
        latency_plans=2,
        memory_plans=(20, 200),
        mapping_plans=10,
        mapping_lookups=100,
        mapping_rounds=1,
        import_runs=1,
    )
    path = tmp_path / "figures.json"

    assert bench.main(["--json", str(path)], sizes=tiny) == 0

    written = json.loads(path.read_text(encoding="utf-8"))
    assert {key for key in written if key not in ("details", "run")} == {*KEYS, "import_ms"}
    for group, keys in KEYS.items():
        assert set(written[group]) == keys
        for key in keys:
            value = written[group][key]
            assert isinstance(value, float), f"{group}.{key}"
            assert math.isfinite(value), f"{group}.{key}"
            assert value > 0, f"{group}.{key}"
    assert math.isfinite(written["import_ms"])
    assert written["import_ms"] > 0
    # 150 tickets: two sys_idIN pages for the engine, the floor and pysnc, one GET per ticket for the naive script.
    (poll,) = written["details"]["poll"]
    sys_id_in_pages = {name: count for name, count in poll["requests"].items() if name != "naive"}
    assert set(sys_id_in_pages) >= {"engine", "adapter", "floor", "pysnc"}
    assert set(sys_id_in_pages.values()) == {2}
    assert poll["requests"]["naive"] == 150
    breakdown = set(poll["engine_breakdown_seconds"])
    assert {"ticketing.statuses", "engine"} <= breakdown
    assert any(part.startswith("store.") for part in breakdown)
    assert written["poll"]["requests_per_100"] == pytest.approx(100 * 2 / 150)
    assert written["details"]["memory"]["large"]["plans"] == 200
    assert written["run"]["quick"] is False
