"""Developer tasks. ``nox`` runs the default set: tests, lint, typing, docs.

Slow sessions (``bench``, ``soak``, ``store_pg``) run only when named: ``nox -s bench``.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = os.environ.get("SIM_SERVICENOW_NOX_PYTHON", "3.11")


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))
    session.install("-e", f".{extras}")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, contract, compatibility and end-to-end tests, with a coverage report."""
    _install(session, "tests", extras="[cli,postgres,testing]")
    args = session.posargs or ["-m", "not slow"]
    session.run("coverage", "erase")
    session.run("pytest", "--cov", "--cov-report=term", "-p", "no:cacheprovider", *args)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "lint")
    paths = [p for p in ("src", "tests", "benchmarks", "noxfile.py") if os.path.exists(p)]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict on the package and on tests/typing (the public API as users call it)."""
    _install(session, "typing", extras="[cli,postgres,testing]")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation strictly: every warning is an error."""
    _install(session, "docs", extras="[cli,postgres,testing]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """The long fault soak and crash runs (slow tests)."""
    _install(session, "tests", extras="[cli,postgres,testing]")
    session.run("pytest", "-m", "slow", "-p", "no:cacheprovider", "-s", *session.posargs)


@nox.session(python=PYTHON)
def store_pg(session: nox.Session) -> None:
    """The state-store contract and multi-worker tests against PostgreSQL (DSN from SIM_SERVICENOW_TEST_PG_DSN)."""
    _install(session, "tests", extras="[cli,postgres,testing]")
    session.run("pytest", "-m", "postgres", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against the alternatives a user would pick; prints a table (``-- --quick`` for a short run)."""
    _install(session, "tests", extras="[cli,postgres,testing]")
    session.run("python", "benchmarks/run.py", *session.posargs)
