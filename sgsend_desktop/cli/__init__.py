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
from sgsend_desktop.cli import payload, serve, transfers  # noqa: F401 - plain imports, seen by freezers
from sgsend_desktop.core.errors import SendError
from sgsend_desktop.core.filenames import clean_text

Handler = Callable[[argparse.Namespace], int]
COMMAND_MODULES = ("payload", "serve", "transfers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgsend", description="Zero-knowledge encrypted file sending.")
    parser.add_argument("--version", action="version", version=f"sgsend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"sgsend_desktop.cli.{name}").register(sub)
    return parser


def join_key_values(argv: Sequence[str]) -> list[str]:
    """``--key -AbC...`` → ``--key=-AbC...``: a base64url key may start with '-', which argparse
    would otherwise take for an option."""
    joined: list[str] = []
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        if item == "--key" and index + 1 < len(items) and items[index + 1].startswith("-"):
            joined.append(f"--key={items[index + 1]}")
            index += 2
            continue
        joined.append(item)
        index += 1
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_key_values(sys.argv[1:] if argv is None else argv))
    handler: Handler = args.handler
    try:
        return handler(args)
    except SendError as error:
        print(f"sgsend: {clean_text(str(error), limit=1000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sgsend: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
