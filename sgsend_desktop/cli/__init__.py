"""`sgsend`: the command-line interface over the Qt-free core.

Each sub-module registers its own sub-commands, so payload tools, the server and the transfer
commands stay in separate files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sgsend_desktop import __version__
from sgsend_desktop.core.errors import SendError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgsend", description="Zero-knowledge encrypted file sending.")
    parser.add_argument("--version", action="version", version=f"sgsend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from sgsend_desktop.cli import payload

    payload.register(sub)
    try:
        from sgsend_desktop.cli import serve
    except ImportError:  # pragma: no cover - while the server is being built
        serve = None  # type: ignore[assignment]
    if serve is not None:
        serve.register(sub)
    try:
        from sgsend_desktop.cli import transfers
    except ImportError:  # pragma: no cover - while the engine is being built
        transfers = None  # type: ignore[assignment]
    if transfers is not None:
        transfers.register(sub)
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
