"""The ``tierbench`` click group. Each command lives in its own module as ``command``."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import Any

import click

from harness import __version__
from harness.errors import UserError
from harness.safetext import one_line
from harness.secrets import redact

# module name under harness.cli -> each exposes ``command`` (a click command or group)
COMMAND_MODULES = (
    "run",
    "report",
    "compare",
    "tasks",
    "models",
    "profiles",
    "doctor",
    "gate",
    "ab",
    "baseline",
    "quantize",
    "cascade",
)


class TierbenchGroup(click.Group):
    """Turns user mistakes into one line on stderr and exit code 2, and imports a command's module only
    when that command is asked for: ``tierbench gate`` in a CI job need not import what ``run`` needs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_MODULES:
            return None
        command: click.Command = importlib.import_module(f"harness.cli.{cmd_name}").command
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"Error: {redact(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            # a path the file system refuses outright (a name over NAME_MAX): the user's to fix
            if exc.errno != errno.ENAMETOOLONG:
                raise
            name = os.fsdecode(exc.filename) if exc.filename is not None else "a path"
            click.echo(
                f"Error: {one_line(name)[:200]}...: name too long for the file system; choose a shorter path", err=True
            )
            sys.exit(UserError.exit_code)
        except click.UsageError as exc:
            # click's own format spreads a bad flag over four lines; keep every user error on one
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {one_line(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=TierbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tierbench")
def cli() -> None:
    """Measure nano, mini and full model tiers on your hardware and tell which one to run.

    \b
    Typical use:
      tierbench run                      # quick suite, every runnable tier, this machine
      tierbench report runs/<run>        # (re)write the HTML report
      tierbench gate runs/<run> --baseline base.json --rules gate.yaml
      tierbench ab --baseline base.json --rules gate.yaml   # both sides here, interleaved
    """


if __name__ == "__main__":
    cli()
