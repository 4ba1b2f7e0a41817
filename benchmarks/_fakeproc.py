"""FakeServiceNow served from a child process, so its CPU time and memory stay out of the measured process.

The benchmark process talks to the child over two channels: HTTP on loopback (what every contender measures) and
a line-based JSON protocol on the child's stdin/stdout (seeding records and reading the fake's request log, which
no contender sees). Run as ``python -m benchmarks._fakeproc [--tls]``; :class:`FakeServer` does that for you.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim_servicenow.testing import FakeServiceNow

ROOT = Path(__file__).resolve().parent.parent

_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

#: The ServiceNow user every contender signs in as (Basic auth).
USER = "admin"
PASSWORD = "admin"


def child_environment() -> dict[str, str]:
    """This process's environment, with the repository on ``PYTHONPATH`` so ``-m benchmarks...`` children work."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


class FakeServerError(RuntimeError):
    """The fake's child process failed to start or answered a command with an error."""


class FakeServer:
    """A FakeServiceNow served on loopback by a child process.

    Use it as a context manager; :attr:`url` and :attr:`verify` are what HTTP clients need.

    Args:
        tls: serve HTTPS with a throwaway CA (pysnc refuses ``http://``).
        seed: seed of the fake's sys_id generator.
    """

    def __init__(self, *, tls: bool = True, seed: int = 7) -> None:
        self.tls = tls
        self.seed = seed
        self.url = ""
        self.ca_bundle: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._saved_environ: dict[str, str | None] = {}

    @property
    def verify(self) -> bool | str:
        """``verify=`` for requests and pysnc: the CA bundle with TLS, ``True`` without."""
        return self.ca_bundle or True

    def __enter__(self) -> FakeServer:
        command = [sys.executable, "-m", "benchmarks._fakeproc", "--seed", str(self.seed)]
        if self.tls:
            command.append("--tls")
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._receive()
        self.url = str(ready["url"])
        self.ca_bundle = ready.get("ca_bundle")
        if self.ca_bundle:
            # pysnc sends prepared requests whose verify= comes from the environment before its session's
            # setting, so the throwaway CA must be the environment's CA bundle while the fake runs.
            self._saved_environ = {name: os.environ.get(name) for name in _CA_VARIABLES}
            os.environ.pop("CURL_CA_BUNDLE", None)
            os.environ["REQUESTS_CA_BUNDLE"] = self.ca_bundle
        return self

    def __exit__(self, *_exc_info: object) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = {}
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                self._send(process, {"command": "stop"})
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    # -- commands ---------------------------------------------------------------------------------

    def seed_tickets(self, table: str, correlation_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Insert one open ticket per correlation id (directly, not over HTTP); ``(sys_id, number)`` of each."""
        rows = self.call("seed", table=table, correlation_ids=list(correlation_ids))
        return [(str(sys_id), str(number)) for sys_id, number in rows]

    def count_requests(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests the fake received (since the last :meth:`clear_log`) matching method and path prefix."""
        return int(self.call("count", method=method, path=path))

    def clear_log(self) -> None:
        """Forget the requests received so far."""
        self.call("clear_log")

    def add_latency(self, seconds: float, *, method: str, path: str) -> None:
        """Make every matching request wait ``seconds`` before it is served (requests overlap their waits)."""
        self.call("latency", seconds=seconds, method=method, path=path)

    def records(self, table: str, field: str) -> list[str]:
        """The value of ``field`` of every record of ``table``."""
        return [str(value) for value in self.call("records", table=table, field=field)]

    def call(self, command: str, **arguments: Any) -> Any:
        """Send one command and return its result."""
        if self._process is None:
            raise FakeServerError("the fake server is not running")
        self._send(self._process, {"command": command, **arguments})
        answer = self._receive()
        if "error" in answer:
            raise FakeServerError(f"fake server: {command}: {answer['error']}")
        return answer.get("result")

    @staticmethod
    def _send(process: subprocess.Popen[str], message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()

    def _receive(self) -> dict[str, Any]:
        assert self._process is not None
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            raise FakeServerError(f"the fake server exited with status {code}")
        answer: dict[str, Any] = json.loads(line)
        return answer


# -- the child side ---------------------------------------------------------------------------------


def _commands(fake: FakeServiceNow) -> dict[str, Callable[..., Any]]:
    from sim_servicenow.mapping import CORRELATION_DISPLAY

    def seed(table: str, correlation_ids: list[str]) -> list[tuple[str, str]]:
        rows = []
        for key in correlation_ids:
            record = fake.insert(
                table,
                short_description=f"Access request {key}",
                correlation_id=key,
                correlation_display=CORRELATION_DISPLAY,
            )
            rows.append((record["sys_id"], record["number"]))
        return rows

    def count(method: str | None, path: str | None) -> int:
        return int(fake.requests.count(method, path))

    def clear_log() -> None:
        fake.requests.clear()

    def records(table: str, field: str) -> list[str]:
        return [record.get(field, "") for record in fake.records(table)]

    def latency(seconds: float, method: str, path: str) -> None:
        fake.faults.add("latency", delay=seconds, method=method, path=path)

    return {"seed": seed, "count": count, "clear_log": clear_log, "records": records, "latency": latency}


def _serve(tls: bool, seed: int, commands_in: IO[str], answers_out: IO[str]) -> None:
    from sim_servicenow.testing import FakeServiceNow, serve

    fake = FakeServiceNow(seed=seed, users={USER: PASSWORD})
    commands = _commands(fake)

    def answer(message: dict[str, Any]) -> None:
        answers_out.write(json.dumps(message) + "\n")
        answers_out.flush()

    with serve(fake, tls=tls) as served:
        answer({"url": served.url, "ca_bundle": served.ca_bundle})
        for line in commands_in:
            message = json.loads(line)
            name = message.pop("command")
            if name == "stop":
                return
            try:
                answer({"result": commands[name](**message)})
            except Exception as exc:  # reported to the parent, which raises it there
                answer({"error": f"{type(exc).__name__}: {exc}"})


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a FakeServiceNow until stdin closes or a ``stop`` command arrives."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fake's sys_id generator")
    args = parser.parse_args(argv)
    # Answers go to the real stdout; anything else printed in the child must not corrupt the protocol.
    answers_out = sys.stdout
    sys.stdout = sys.stderr
    _serve(args.tls, args.seed, sys.stdin, answers_out)


if __name__ == "__main__":
    main()
