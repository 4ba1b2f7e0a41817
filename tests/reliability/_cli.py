"""Running ``sim-servicenow`` as a separate process against fakes served by the test process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sim_servicenow.testing import ServedApp

#: The secrets the configuration file references; the child process gets them from its environment.
SN_PASSWORD_ENV = "SIM_TEST_SN_PASSWORD"
IDN_SECRET_ENV = "SIM_TEST_IDN_CLIENT_SECRET"
#: The log line ``sim-servicenow run`` writes once the engine is built and about to start its first cycle.
READY = "running integration"


def write_config(
    path: Path,
    *,
    servicenow: ServedApp,
    identitynow: ServedApp,
    sources: Sequence[tuple[str, str, str]],
    store: Path,
    forward_failed_to: str | None = None,
    interval_minutes: float = 0.02,
    servicenow_user: str = "admin",
    identitynow_client_id: str = "fake-client-id",
) -> Path:
    """A TOML configuration in the library's format; secrets are environment-variable references."""
    lines = [
        'name = "reliability"',
        f'store_url = "sqlite:///{store}"',
        *([f'forward_failed_to = "{forward_failed_to}"'] if forward_failed_to else []),
        "",
        "[servicenow]",
        f'url = "{servicenow.url}"',
        'auth = "basic"',
        f'username = "{servicenow_user}"',
        f'password = {{ env = "{SN_PASSWORD_ENV}" }}',
        "",
        "[identitynow]",
        f'url = "{identitynow.url}"',
        f'client_id = "{identitynow_client_id}"',
        f'client_secret = {{ env = "{IDN_SECRET_ENV}" }}',
        "",
        "[status]",
        f"check_interval_minutes = {interval_minutes}",
        "max_check_days = 2",
        "",
        "[sources]",
        *(f'{source_id} = {{ name = "{name}", catalog_item = "{item}" }}' for source_id, name, item in sources),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class CliProcess:
    """``python -m sim_servicenow.cli ARGS``; its merged output is collected by a thread as it comes."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.args = list(args)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sim_servicenow.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if READY in line:
                self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            assert self.process.poll() is None, (
                f"exited with {self.process.returncode} before it was ready:\n{self.output}"
            )
            assert time.monotonic() < deadline, f"not ready after {timeout} s:\n{self.output}"

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def run_cli(args: Sequence[str], env: Mapping[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the command to its end; stdout and stderr apart."""
    return subprocess.run(
        [sys.executable, "-m", "sim_servicenow.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        check=False,
    )
