"""The ``sim-servicenow`` command: argument parsing, logging, and turning errors into one line and an exit code."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from .._errors import SimServiceNowError
from ._exit import ExitCode, exit_code_for
from ._logs import LOG_FORMATS, configure_logging

__all__ = ["build_parser", "main"]

PROG = "sim-servicenow"

_DESCRIPTION = """\
Provisioning for IdentityNow sources becomes ServiceNow tickets; ticket statuses flow back to IdentityNow.

Start with `sim-servicenow demo`: it runs the whole loop against in-process fakes of both services.
"""

_EPILOG = """\
exit codes: 0 done; 1 the job failed (a check failed, a plan did not end as expected, a request was refused);
2 usage or configuration error; 3 a service could not be reached or refused the credentials; 130 interrupted.
Documentation: https://sim-servicenow.readthedocs.io/en/latest/cli/
"""

Handler = Callable[[argparse.Namespace], ExitCode]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sim-servicenow")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _common_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command name (``sim-servicenow -v check`` = ``check -v``)."""

    def default(value: object) -> object:
        # In a subcommand an option left out must not overwrite what was given before the command name.
        return argparse.SUPPRESS if in_subcommand else value

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output options")
    group.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="more log lines (-vv for debug detail)"
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="debug logs, and a traceback with errors"
    )
    group.add_argument(
        "--log-format", choices=LOG_FORMATS, default=default("text"), help="log lines as text (default) or JSON"
    )
    return common


def _command(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: str,
    help_text: str,
    description: str,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=description,
        parents=[_common_options(in_subcommand=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    parser.set_defaults(handler=handler)
    return parser


def _config_options(parser: argparse.ArgumentParser, *, store: bool = True) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="the integration: a TOML file, or a SailPoint SIM/SDIM definition (JSON)",
    )
    parser.add_argument(
        "--sim-definition",
        metavar="FILE",
        help="a SailPoint SIM or SDIM definition (JSON) to run unchanged; --config then adds settings on top",
    )
    if store:
        parser.add_argument("--store", metavar="URL", help="state store URL, replacing the configuration's store_url")


def _ca_bundle_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-bundle", metavar="FILE", help="trust the CA certificates in FILE (PEM) for TLS")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        parents=[_common_options(in_subcommand=False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = _command(
        commands,
        "demo",
        "_demo:run_demo",
        "see the whole loop work against in-process fakes",
        "Start fake IdentityNow and ServiceNow services on loopback, seed joiners, movers and leavers, run the\n"
        "engine on an accelerated clock while the fake service desk works the tickets, and show what happened.",
    )
    demo.add_argument("--plans", type=_count, default=12, metavar="N", help="work items to seed (default 12)")
    demo.add_argument("--seed", type=int, default=7, help="seed for ids and outcomes (default 7)")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="instead of running the engine, keep both fakes up (with pending work items) and print their URLs, "
        "credentials and a configuration for them; Ctrl-C stops",
    )
    demo.add_argument(
        "--port", type=_port, default=0, help="with --serve: ServiceNow on PORT, IdentityNow on PORT+1 (default: any)"
    )

    run = _command(
        commands,
        "run",
        "_run:run_engine",
        "run the integration until stopped",
        "Run the integration: poll IdentityNow's work items, raise tickets, check them, report outcomes.\n"
        "SIGINT or SIGTERM stops it once the steps under way are recorded; a second one stops it at once.",
    )
    _config_options(run)
    _ca_bundle_option(run)
    run.add_argument(
        "--interval", type=_seconds, default=30.0, metavar="SECONDS", help="pause between cycles (default 30)"
    )
    run.add_argument("--once", action="store_true", help="run one cycle, then exit (1 if the cycle had errors)")
    run.add_argument(
        "--concurrency", type=_count_positive, default=4, metavar="N", help="plans worked on at once (default 4)"
    )
    run.add_argument("--worker-id", metavar="NAME", help="this worker's name in leases and the audit trail")

    check = _command(
        commands,
        "check",
        "_check:run_check",
        "validate a configuration against both services",
        "Validate the configuration, sign in to ServiceNow and IdentityNow, verify the managed sources and\n"
        "catalog items exist, read the status-check configuration and open the state store.",
    )
    _config_options(check)
    _ca_bundle_option(check)

    render = _command(
        commands,
        "render",
        "_render:run_render",
        "show the tickets a plan would produce (dry run)",
        "Render the ticket payloads of one or more provisioning plans with the integration's templates,\n"
        "without calling any service.",
    )
    _config_options(render, store=False)
    render.add_argument(
        "--plan", required=True, metavar="FILE", help="a plan, a list of plans, or an IdentityNow work item (JSON)"
    )
    render.add_argument("--json", action="store_true", help="print the payloads as JSON")

    pull = _command(
        commands,
        "pull",
        "_pull:run_pull",
        "write a configuration from a SIM or SDIM definition in a tenant",
        "Read an existing SailPoint SIM (or Service Desk Integration) definition from the tenant and write it\n"
        "as a configuration file; secrets become environment-variable references.\n\n"
        "Credentials: --client-id (or $SAIL_CLIENT_ID) and the secret in $SAIL_CLIENT_SECRET, as SailPoint's\n"
        "SDKs read them.",
    )
    pull.add_argument(
        "--tenant",
        default=os.environ.get("SAIL_BASE_URL"),
        metavar="URL",
        help="the tenant's API URL, e.g. https://acme.api.identitynow.com (default: $SAIL_BASE_URL)",
    )
    pull.add_argument(
        "--integration", metavar="ID", help="the integration's id; without it, the tenant's integrations are listed"
    )
    pull.add_argument(
        "--type", choices=("auto", "sim", "sdim"), default="auto", help="SIM or SDIM (default: try SIM, then SDIM)"
    )
    pull.add_argument(
        "--client-id",
        metavar="ID",
        default=os.environ.get("SAIL_CLIENT_ID"),
        help="the client id (default: $SAIL_CLIENT_ID)",
    )
    pull.add_argument(
        "--client-secret-env",
        default="SAIL_CLIENT_SECRET",
        metavar="NAME",
        help="the environment variable holding the client secret (default SAIL_CLIENT_SECRET)",
    )
    pull.add_argument("-o", "--output", metavar="FILE", help="where to write the TOML (default: standard output)")
    pull.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    _ca_bundle_option(pull)

    tickets = _command(
        commands,
        "tickets",
        "_tickets:run_tickets",
        "list tracked plans, their tickets and states",
        "List the plans in a state store with their tickets and states (the most recent last), or show one\n"
        "plan with its audit trail.",
    )
    where = tickets.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", metavar="URL", help="the state store, e.g. sqlite:///sim-servicenow.db")
    where.add_argument("-c", "--config", metavar="FILE", help="read the store URL from this configuration")
    tickets.add_argument("--state", choices=("received", "active", "reporting", "done"), help="only plans in STATE")
    tickets.add_argument(
        "--outcome", choices=("committed", "failed", "expired", "skipped"), help="only plans with OUTCOME"
    )
    tickets.add_argument("--source", metavar="NAME", help="only plans from this plan source (e.g. identitynow)")
    tickets.add_argument(
        "--limit", type=_count, default=50, metavar="N", help="show the N most recent (default 50; 0 for all)"
    )
    one = tickets.add_mutually_exclusive_group()
    one.add_argument("--plan", metavar="KEY", help="show one plan, its tickets and its audit trail")
    one.add_argument("--ticket", metavar="NUMBER", help="show the plan of ticket NUMBER (e.g. REQ0010042)")
    tickets.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _count(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _count_positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65534:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < 86400 * 365:
        raise argparse.ArgumentTypeError(f"must be between 0 and a year, got {text}")
    return value


def _handler(spec: str) -> Handler:
    # Commands are imported when chosen, so `--help` and quick commands start fast.
    module, _, name = spec.partition(":")
    handler: Handler = getattr(importlib.import_module(f".{module}", __package__), name)
    return handler


def _log_level(command: str, verbose: int, debug: bool) -> int:
    if debug:
        return logging.DEBUG
    # `run` is a service: its log lines are its output. The demo tells its own story (on simulated time, which
    # log timestamps would contradict). Other commands speak through their results and warn in logs.
    levels = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)
    base = {"run": 2, "demo": 0}.get(command, 1)
    return levels[min(base + verbose, len(levels) - 1)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sim-servicenow`` command with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    if args.command in ("run", "check", "render") and not (args.config or args.sim_definition):
        print(f"{PROG} {args.command}: error: give --config FILE (or --sim-definition FILE)", file=sys.stderr)
        return ExitCode.USAGE
    configure_logging(_log_level(args.command, args.verbose, args.debug), args.log_format)
    try:
        return int(_handler(args.handler)(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.FAILED
    except SimServiceNowError as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return exit_code_for(error)
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (run with --debug for the traceback)"
        print(f"error: unexpected {type(error).__name__}: {error}{hint}", file=sys.stderr)
        return ExitCode.FAILED
