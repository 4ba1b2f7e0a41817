"""The command as users run it: a subprocess, speaking HTTP to fakes this test process serves on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, ServedApp, serve

#: Secrets of the fakes, as the configuration files of these tests reference them.
ENV = {"SN_PASSWORD": "admin", "SAIL_CLIENT_SECRET": FakeIdentityNow.DEFAULT_CLIENT_SECRET}


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m sim_servicenow.cli ARGS`` with a clean environment (no terminal, so plain output)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("SN_", "SAIL_"))}
    environ.update(env or {})
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "sim_servicenow.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def toml_config(
    sn_url: str, idn_url: str, sources: Mapping[str, tuple[str, str | None]], *, store: str, extra: str = ""
) -> str:
    """A configuration file for the served fakes; ``sources`` maps id to (name, catalog item)."""
    lines = [
        'name = "cli tests"',
        f'store_url = "{store}"',
        "",
        "[servicenow]",
        f'url = "{sn_url}"',
        'username = "admin"',
        'password = { env = "SN_PASSWORD" }',
        "",
        "[identitynow]",
        f'url = "{idn_url}"',
        f'client_id = "{FakeIdentityNow.DEFAULT_CLIENT_ID}"',
        'client_secret = { env = "SAIL_CLIENT_SECRET" }',
        "",
        "[sources]",
    ]
    for source_id, (name, item) in sources.items():
        entry = f'name = "{name}"' + (f', catalog_item = "{item}"' if item else "")
        lines.append(f"{source_id} = {{ {entry} }}")
    return "\n".join(lines) + "\n" + extra


@attrs.define
class Served:
    """Both fakes served on loopback, two sources with catalog items and one unmanaged source."""

    sn: FakeServiceNow
    idn: FakeIdentityNow
    sn_served: ServedApp
    idn_served: ServedApp
    badge: dict[str, Any]
    laptop: dict[str, Any]
    directory: dict[str, Any]
    badge_item: str
    laptop_item: str

    def config_text(self, store: str, *, extra: str = "") -> str:
        sources = {
            self.badge["id"]: ("Badge System", self.badge_item),
            self.laptop["id"]: ("Laptop Fleet", self.laptop_item),
        }
        return toml_config(self.sn_served.url, self.idn_served.url, sources, store=store, extra=extra)


@pytest.fixture
def served() -> Iterator[Served]:
    sn = FakeServiceNow(seed=11)
    idn = FakeIdentityNow(seed=11)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    directory = idn.add_source("Active Directory")
    variables = ["sim_correlation_id", "short_description", "description"]
    badge_item = sn.add_catalog_item("Security badge", variables)
    laptop_item = sn.add_catalog_item("Laptop", variables)
    with serve(sn) as sn_served, serve(idn) as idn_served:
        yield Served(sn, idn, sn_served, idn_served, badge, laptop, directory, badge_item, laptop_item)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
