"""Every public name each package lists in ``__all__`` can be imported, and the lists are sorted."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "sim_servicenow",
    "sim_servicenow.errors",
    "sim_servicenow.http",
    "sim_servicenow.auth",
    "sim_servicenow.servicenow",
    "sim_servicenow.identitynow",
    "sim_servicenow.mapping",
    "sim_servicenow.engine",
    "sim_servicenow.adapters",
    "sim_servicenow.testing",
    "sim_servicenow.cli",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_import(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names)), f"{package}.__all__ lists a name twice"
    for name in names:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_version_comes_from_metadata() -> None:
    from importlib.metadata import version

    import sim_servicenow

    assert sim_servicenow.__version__ == version("sim-servicenow")


def test_unknown_attribute_is_attribute_error() -> None:
    import sim_servicenow

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = sim_servicenow.Nope  # type: ignore[attr-defined]


def test_import_is_lazy() -> None:
    # Importing the package must not import the heavy layers; scripts and the CLI start fast.
    heavy = ("requests", "authlib", "airspeed", "sqlite3")
    code = f"import sys, sim_servicenow; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""
