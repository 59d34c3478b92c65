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

import json
import logging
import sys
from typing import NoReturn

import typer

# typer vendors click: what it raises are these classes, not the `click` package's.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from integrations.cli import agent, appeals, claims, codes, evaluate, knowledge, setup, slack, users, x12
from integrations.mcp import register as register_mcp
from knowledge.errors import AssistantError, ConfigurationError

app = typer.Typer(
    name="billing-assistant",
    help="A billing-office assistant: codes, claims, denials, remittances and payments, in chat and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# The command groups, explicitly: each module owns its commands.
setup.register(app)
agent.register(app)
evaluate.register(app)
register_mcp(app)
app.add_typer(claims.app, name="claims")
app.add_typer(appeals.app, name="appeals")
app.add_typer(x12.app, name="x12")
app.add_typer(codes.app, name="codes")
app.add_typer(knowledge.app, name="knowledge")
app.add_typer(users.app, name="users")
app.add_typer(slack.app, name="slack")


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
