"""The mapping layer is pure: no module of it imports an I/O library, and importing it loads none."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import sim_servicenow.mapping

PACKAGE_DIR = Path(sim_servicenow.mapping.__file__).parent
FORBIDDEN_TOP_LEVEL = {"requests", "sqlite3", "socket", "http", "urllib", "urllib3", "psycopg", "ssl", "asyncio"}
# urllib.parse is pulled in by pathlib (stdlib) and is pure string handling; these are the modules that do I/O.
IO_MODULES = ["requests", "urllib3", "sqlite3", "_sqlite3", "socket", "ssl", "http.client", "urllib.request", "psycopg"]


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            names.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return names


def test_package_has_modules_to_check() -> None:
    assert len(list(PACKAGE_DIR.glob("*.py"))) >= 8


def test_no_module_of_the_package_imports_an_io_library() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in PACKAGE_DIR.glob("*.py")
        for name in imported_names(path)
        if name.split(".")[0] in FORBIDDEN_TOP_LEVEL
    }
    assert not offenders


def test_the_import_checker_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import socket\nfrom http import client\nimport importlib\nimportlib.import_module('sqlite3')\n")
    assert {"socket", "http", "sqlite3"} <= imported_names(module)


def run_python(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_importing_the_package_loads_no_io_module() -> None:
    code = (
        "import json, sys\n"
        "import sim_servicenow.mapping\n"
        f"print(json.dumps([m for m in {IO_MODULES!r} if m in sys.modules]))\n"
    )
    assert run_python(code) == []


def test_airspeed_itself_loads_no_io_module() -> None:
    code = f"import json, sys\nimport airspeed\nprint(json.dumps([m for m in {IO_MODULES!r} if m in sys.modules]))\n"
    assert run_python(code) == []


def test_the_subprocess_check_can_fail() -> None:
    code = f"import json, sys\nimport socket\nprint(json.dumps([m for m in {IO_MODULES!r} if m in sys.modules]))\n"
    assert run_python(code) == ["socket"]
