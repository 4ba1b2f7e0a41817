"""``python -m sim_servicenow.cli``: the ``sim-servicenow`` command."""

from . import main

raise SystemExit(main())
