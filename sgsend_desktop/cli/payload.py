"""`sgsend encrypt` / `sgsend decrypt`: payload files in the upstream format, no server involved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import LocalIOError, SendError


def register(sub: Any) -> None:
    encrypt = sub.add_parser(
        "encrypt", help="encrypt a file into an SGraph Send payload",
        description="Write the upstream payload (IV ‖ AES-256-GCM(SGMETA ‖ file) ‖ tag).")
    keys = encrypt.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key", help="base64url key (43 characters) or friendly key word-word-NNNN")
    keys.add_argument("--new-key", action="store_true", help="generate a key and print it on stdout")
    encrypt.add_argument("--name", help="file name stored (encrypted) in the payload; default: IN's name")
    encrypt.add_argument("input", type=Path, metavar="IN")
    encrypt.add_argument("output", type=Path, metavar="PAYLOAD_OUT")
    encrypt.set_defaults(handler=run_encrypt)

    decrypt = sub.add_parser("decrypt", help="decrypt an SGraph Send payload into a folder",
                             description="Verify and decrypt PAYLOAD; the file gets the name stored inside.")
    decrypt.add_argument("--key", required=True, help="base64url key or friendly key word-word-NNNN")
    decrypt.add_argument("payload", type=Path, metavar="PAYLOAD")
    decrypt.add_argument("-o", "--output-dir", type=Path, default=Path("."), metavar="DIR")
    decrypt.set_defaults(handler=run_decrypt)


def run_encrypt(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        raise LocalIOError(f"{args.input} is not a readable file")
    if args.new_key:
        key = crypto.generate_key()
        print(crypto.encode_key(key))
    else:
        key = crypto.resolve_key(args.key)
    crypto.encrypt_file(args.input, args.output, key, args.name)
    return 0


def run_decrypt(args: argparse.Namespace) -> int:
    if not args.payload.is_file():
        raise LocalIOError(f"{args.payload} is not a readable file")
    key = crypto.resolve_key(args.key)
    try:
        path = crypto.decrypt_file(args.payload, key, args.output_dir,
                                   fallback_name=args.payload.stem or "download.bin")
    except SendError:
        raise
    except OSError as error:  # pragma: no cover - decrypt_file maps these already
        raise LocalIOError(str(error)) from None
    print(path)
    sys.stdout.flush()
    return 0
