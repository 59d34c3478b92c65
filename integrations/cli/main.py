"""Entry point of `billing-assistant`: registers the command groups and maps errors to exit codes.

Exit codes: 0 success, 1 an AssistantError (the one-line reason is printed on stderr, or as JSON with
`--json`), 2 bad usage or settings, 3 an unexpected failure (a bug: the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
import sys

import typer

from integrations.cli import agent, claims, codes, evaluate, knowledge, setup, slack, users, x12
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
app.add_typer(claims.app, name="claims")
app.add_typer(x12.app, name="x12")
app.add_typer(codes.app, name="codes")
app.add_typer(knowledge.app, name="knowledge")
app.add_typer(users.app, name="users")
app.add_typer(slack.app, name="slack")


def run() -> None:
    """Console-script entry: run the app, turning domain errors into a one-line reason and an exit code."""
    wants_json = "--json" in sys.argv
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(1)
    except AssistantError as exc:
        code = 2 if isinstance(exc, ConfigurationError) else 1
        if wants_json:
            sys.stdout.write(json.dumps({"error": exc.code, "message": exc.message}) + "\n")
        sys.stderr.write(f"error: {exc.message}\n")
        sys.exit(code)
    except Exception as exc:  # a bug: say so in one line, keep the details for the log
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        logging.getLogger("billing_assistant").exception("unexpected failure")
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}); see the log above.\n")
        sys.exit(3)


if __name__ == "__main__":
    run()
