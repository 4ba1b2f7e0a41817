"""The ``sim-servicenow`` command line: ``demo``, ``run``, ``check``, ``render``, ``pull`` and ``tickets``.

Installed as a console script (``pip install 'sim-servicenow[cli]'``); ``python -m sim_servicenow.cli`` runs
the same. `main` returns the exit code (see `ExitCode`), so it can also be called from Python::

    from sim_servicenow.cli import main

    exit_code = main(["check", "--config", "integration.toml"])
"""

from ._app import main
from ._exit import ExitCode

__all__ = ["ExitCode", "main"]
