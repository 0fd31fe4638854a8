"""Error types that the CLI turns into one-line messages and exit codes: a ``UserError`` (a mistake the
user can fix) prints one line and exits 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in input the user controls; the message says what and how to fix it."""

    exit_code = 2

    def __str__(self) -> str:
        # Always one line, even when it quotes a value from a file that holds a line break.
        from harness.safetext import one_line

        return one_line(super().__str__())


class ConfigError(UserError):
    """A configuration file or value failed validation."""


class BackendUnavailable(Exception):
    """A backend cannot run here (missing dependency, no API key, unreachable endpoint)."""


class MissingDependency(BackendUnavailable):
    """An optional dependency of a backend is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'tierbench[{extra}]'")


class ModelLoadError(Exception):
    """A model that should run here failed to load (corrupt file, unsupported format): a failed cell."""
