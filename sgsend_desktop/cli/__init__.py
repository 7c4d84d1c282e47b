"""`sgsend`: the command-line interface over the Qt-free core.

Each sub-module registers its own sub-commands, so payload tools, the server and the transfer
commands stay in separate files.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from sgsend_desktop import __version__
from sgsend_desktop.core.errors import SendError

Handler = Callable[[argparse.Namespace], int]
COMMAND_MODULES = ("payload", "serve", "transfers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgsend", description="Zero-knowledge encrypted file sending.")
    parser.add_argument("--version", action="version", version=f"sgsend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"sgsend_desktop.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SendError as error:
        print(f"sgsend: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sgsend: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
