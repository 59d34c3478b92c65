"""Entry point of `billing-assistant`: registers the command groups and maps every outcome to an exit code.

Exit codes (the README promises them):

- 0: done.
- 1: the request could not be done: an `AssistantError` (not found, refused, invalid input), a problem
  the command was asked to find (`codes check`), any refused file of a batch (`x12 import`), or a file
  that cannot be read or written. The one-line reason goes to stderr.
- 2: bad usage (an unknown command or option, a missing argument, a value not allowed) or a bad setting.
- 3: an unexpected failure: a bug. The traceback goes to the log; the person gets one line.

With `--json`, a failure is also one JSON document on stdout: ``{"error": code, "message": reason}``.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, NoReturn

import typer
from typer import main as typer_main

# typer vendors click: what it raises are these classes, not the `click` package's.
from typer._click import Command, Context
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from knowledge.errors import AssistantError, ConfigurationError

# The command groups, explicitly: each top-level command, in the order `--help` lists them, and where it is
# declared, as ``module:attribute``: a Typer group added under the command's name, or a `register(app)`
# function that adds the module's commands. A module is imported only when one of its commands runs (or
# `--help` lists them all), so `codes lookup` does not pay for the agent, the embedding model or the web.
COMMANDS: dict[str, str] = {
    "init": "integrations.cli.setup:register",
    "serve": "integrations.cli.setup:register",
    "config": "integrations.cli.setup:register",
    "ask": "integrations.cli.agent:register",
    "chat": "integrations.cli.agent:register",
    "eval": "integrations.cli.evaluate:register",
    "bench": "integrations.cli.evaluate:register",
    "mcp": "integrations.mcp:register",
    "actions": "integrations.cli.agent:register",
    "claims": "integrations.cli.claims:app",
    "appeals": "integrations.cli.appeals:app",
    "x12": "integrations.cli.x12:app",
    "codes": "integrations.cli.codes:app",
    "knowledge": "integrations.cli.knowledge:app",
    "practices": "integrations.cli.practices:app",
    "users": "integrations.cli.users:app",
    "slack": "integrations.cli.slack:app",
    "digests": "integrations.cli.digests:app",
}


def _load_commands(name: str) -> dict[str, Command]:
    """Import the module declaring ``name`` and build its click commands as an eager registration would."""
    module_name, attribute = COMMANDS[name].split(":")
    declared = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    if isinstance(declared, typer.Typer):
        holder.add_typer(declared, name=name)
    else:
        declared(holder)
    return dict(typer_main.get_group(holder).commands)


class _LazyCommands(MutableMapping[str, Command]):
    """The top-level commands by name; a command's module is imported the first time its entry is read.

    Names alone (what click's "did you mean" and the listing order need) cost nothing."""

    def __init__(self, eager: MutableMapping[str, Command]) -> None:
        self._loaded: dict[str, Command] = dict(eager)

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in COMMANDS:
            for loaded, command in _load_commands(name).items():
                self._loaded.setdefault(loaded, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._loaded if name not in COMMANDS)


class LazyGroup(TyperGroup):
    """The `billing-assistant` group: its commands come from `COMMANDS`, each module loaded on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # names only: listing does not import the modules


app = typer.Typer(
    name="billing-assistant",
    help="A billing-office assistant: codes, claims, denials, remittances and payments, in chat and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    # A Typer without registered commands would not become a group: this (option-less) callback makes it one.
    pass


def _fail(code: int, error: str, message: str, *, wants_json: bool) -> NoReturn:
    """Report a failure in one line (and as JSON with `--json`) and exit with ``code``."""
    if wants_json:
        sys.stdout.write(json.dumps({"error": error, "message": message}) + "\n")
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def run() -> None:
    """Console-script entry: run the app and exit with the code its outcome maps to (see the module)."""
    wants_json = "--json" in sys.argv
    try:
        # Outside standalone mode click returns the code of `typer.Exit` instead of exiting with it.
        result = app(standalone_mode=False)
    except typer.Abort:
        _fail(1, "aborted", "Aborted.", wants_json=wants_json)
    except AssistantError as exc:
        _fail(2 if isinstance(exc, ConfigurationError) else 1, exc.code, exc.message, wants_json=wants_json)
    except NoArgsIsHelpError as exc:  # a bare group: its help, where and how click shows it
        exc.show()
        sys.exit(2)
    except UsageError as exc:  # an unknown command or option, a missing argument, a value not allowed
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        _fail(2, "usage", _one_line(exc.format_message()) + hint, wants_json=wants_json)
    except typer.TyperException as exc:  # click's other errors (typer vendors click under this base)
        _fail(1, "error", _one_line(exc.format_message()), wants_json=wants_json)
    except OSError as exc:  # a path the person gave that cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(1, "file_error", f"{where}{exc.strerror or exc}", wants_json=wants_json)
    except Exception as exc:  # a bug: say so in one line, keep the details for the log
        logging.getLogger("billing_assistant").exception("unexpected failure")
        _fail(3, "internal", f"unexpected failure ({type(exc).__name__}); see the log.", wants_json=wants_json)
    sys.exit(result if isinstance(result, int) else 0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    run()
