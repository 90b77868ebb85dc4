"""What every ``firesale`` command shares: the consoles, the exit-code mapping of errors, the exit itself.

Kept apart from :mod:`firesale.cli` so commands defined beside their domain (``firesale.contagion``,
``firesale.monitor``, ``firesale.analysis``) use the same behaviour without importing the CLI.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from firesale.exceptions import FiresaleError, ParameterError, ScenarioError

__all__ = ["err", "fail", "guard", "out"]


class _Stdout:
    """The stdout console, made when used: ``$COLUMNS`` if set, else the terminal's width, else 200 columns.

    Piped output is not wrapped to 80 columns (ids and numbers must survive ``| grep``); a terminal or an explicit
    ``COLUMNS`` gets tables laid out to fit it.
    """

    def __getattr__(self, name: str) -> Any:
        width = os.environ.get("COLUMNS", "")
        if width.isdigit() and int(width) > 0:
            console = Console(width=int(width))
        else:
            console = Console() if sys.stdout.isatty() else Console(width=200)
        return getattr(console, name)


out: Any = _Stdout()
err = Console(stderr=True)


def fail(message: str, code: int) -> None:
    for line in message.splitlines():
        click.echo(line, err=True)  # plain lines, never wrapped: one problem per line
    sys.exit(code)


def guard(fn: Callable[..., Any], interrupted: str = "interrupted") -> Callable[..., Any]:
    """Map library errors to exit codes; tracebacks only with --debug; Ctrl-C says ``interrupted`` and exits 130."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = ctx.find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except (ScenarioError, ParameterError) as exc:
            if debug:
                traceback.print_exc()
            fail(str(exc), 2)
        except FiresaleError as exc:
            if debug:
                traceback.print_exc()
            fail(f"error: {exc}", 1)
        except KeyboardInterrupt:
            # Handled here, not by click, which would print "Aborted!" and exit 1.
            fail(interrupted, 130)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
