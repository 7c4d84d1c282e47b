"""`sgsend send|get|list|resume|pause|cancel|delete|token-status`: the transfer engine from the command line.

Links and saved paths go to stdout (one per line); progress and notes go to stderr (a redrawn bar
when stderr is a terminal, plain lines otherwise). With no server configured (``--server`` or
``SGSEND_SERVER``) the local server of the data dir is used (``core/local_server.py``): the one the
desktop app runs, else one started for the duration of the command, on the data dir's kept port;
``--lan`` or ``SGSEND_SHARE_LAN=1`` shares it on the local network.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sgsend_desktop.core import config, crypto
from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.engine import TransferEngine, share_link_for
from sgsend_desktop.core.errors import LinkError, SendError, UnknownTransferError
from sgsend_desktop.core.filenames import clean_text
from sgsend_desktop.core.links import ShareLink, parse_link
from sgsend_desktop.core.local_server import LocalEndpoint, open_local_server, share_lan_from_env
from sgsend_desktop.core.logsetup import configure_logging
from sgsend_desktop.core.model import Direction, EngineEvent, TransferOptions, TransferSnapshot, TransferState
from sgsend_desktop.core.units import format_size

WAIT_DONE = (TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED, TransferState.PAUSED)
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?(?:/s)?$", re.IGNORECASE)


def _add_server_args(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    parser.add_argument("--server",
                        help="server URL (default: $SGSEND_SERVER, else the embedded local server)")
    parser.add_argument("--token", help="access token (default: $SGSEND_TOKEN)")
    if workers:
        parser.add_argument("--lan", action="store_true", default=None,
                            help="without a server: share the local server on the local network, "
                                 "links carry this computer's network address (default: $SGSEND_SHARE_LAN=1)")
        parser.add_argument("--workers", type=int, default=4, help="parallel part workers (default 4)")
        parser.add_argument("--limit", type=parse_rate, default=None, metavar="RATE",
                            help="bandwidth limit in bytes/s (suffix K, M or G allowed)")


def register(sub: Any) -> None:
    send = sub.add_parser("send", help="encrypt and upload files or folders; print their share links")
    send.add_argument("paths", nargs="*", type=Path, metavar="PATH")  # "*": see _friendly_form
    send.add_argument("--max-downloads", type=int, default=0, help="0 = unlimited")
    send.add_argument("--expires", type=parse_expiry, default=None, help="1h, 1d, 7d, ... or an ISO date")
    send.add_argument("--link-only", action="store_true", help="print the link and the key on separate lines")
    send.add_argument("--friendly", nargs="?", const="web", default=None, metavar="web|strong",
                      help="a word key instead of a random one: word-word-NNNN (web, the default: the web "
                           "UI opens it, but it can be guessed in minutes) or five words (strong: resists "
                           "guessing; only this app opens it)")
    send.add_argument("--no-delete-auth", action="store_true", help="do not allow deleting it later")
    _add_server_args(send)
    send.set_defaults(handler=run_send)

    get = sub.add_parser("get", help="download and decrypt a share link; print the saved path")
    get.add_argument("link")
    get.add_argument("--key", help="the key, when the link has none")
    get.add_argument("-o", "--output-dir", type=Path, default=Path("."), metavar="DIR")
    _add_server_args(get)
    get.set_defaults(handler=run_get)

    listing = sub.add_parser("list", help="show the transfers in the journal")
    listing.set_defaults(handler=run_list)

    resume = sub.add_parser("resume", help="finish paused, failed or interrupted transfers")
    which = resume.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="local id (see `sgsend list`)")
    which.add_argument("--all", action="store_true", help="every unfinished transfer")
    _add_server_args(resume)
    resume.set_defaults(handler=run_resume)

    pause = sub.add_parser("pause", help="pause a transfer (also one running in another sgsend process)")
    pause.add_argument("id")
    pause.set_defaults(handler=run_pause)

    cancel = sub.add_parser("cancel", help="cancel a transfer and abort its upload on the server")
    cancel.add_argument("id")
    cancel.set_defaults(handler=run_cancel)

    delete = sub.add_parser("delete", help="delete a file you sent from the server (needs its key)")
    delete.add_argument("link", help="the share link (or the local id of a send)")
    delete.add_argument("--key", help="the key, when the link has none")
    _add_server_args(delete, workers=False)
    delete.set_defaults(handler=run_delete)

    token = sub.add_parser("token-status", help="ask the server whether the access token is valid, "
                                                "and how many uses it has left")
    _add_server_args(token, workers=False)
    token.set_defaults(handler=run_token_status)


# argument parsing --------------------------------------------------------------------------------------
def parse_expiry(text: str) -> datetime:
    match = _DURATION.match(text.strip().lower())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return datetime.now(UTC) + timedelta(**{unit: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1h, 1d, 7d or an ISO date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_rate(text: str) -> int:
    match = _RATE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 500K or 2M")
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


# running the engine --------------------------------------------------------------------------------------
def _setup_logging() -> None:
    configure_logging("sgsend: ")


@contextmanager
def _server(args: argparse.Namespace, data_dir: Path) -> Iterator[tuple[str, LocalEndpoint | None]]:
    """(server url, the local server or None) — without a configured server, the data dir's local
    server: the running desktop app's, else one that lives for the duration of the command."""
    url = (getattr(args, "server", None) or config.configured_server() or "").rstrip("/")
    if url:
        yield url, None
        return
    lan = getattr(args, "lan", None)
    server = open_local_server(data_dir, lan=share_lan_from_env() if lan is None else lan)
    for note in server.notes:
        print(f"sgsend: {note}", file=sys.stderr)
    reach = "on the local network" if server.endpoint.lan else "only on this computer"
    print(f"sgsend: no server configured (--server or SGSEND_SERVER): using the embedded local server "
          f"at {server.url}; its links open {reach}, while SGraph Send runs it", file=sys.stderr)
    try:
        yield server.url, server.endpoint
    finally:
        server.stop()


@contextmanager
def _engine(args: argparse.Namespace, data_dir: Path, server_url: str,
            local: LocalEndpoint | None = None) -> Iterator[TransferEngine]:
    token = local.token if local is not None else getattr(args, "token", None) or config.configured_token()
    limit = getattr(args, "limit", None)
    engine = TransferEngine(data_dir, server_url, token, workers=getattr(args, "workers", 4) or 4,
                            upload_limit_bps=limit, download_limit_bps=limit, max_active_transfers=2,
                            local=local, watch_downloads=False)  # the command ends with its transfers
    try:
        yield engine
    finally:
        engine.close()


class ProgressPrinter:
    """Renders engine events on stderr: a bar redrawn with \\r on a terminal, plain lines otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last_line: dict[str, float] = {}
        self._drawn = False
        self._reconnect: dict[str, float] = {}  # id → the next try last announced (reconnecting rows)
        self._notes: dict[str, str] = {}  # id → the note last printed (e.g. a send started again)

    def __call__(self, event: EngineEvent) -> None:
        snap = event.snapshot
        with self._lock:
            if snap.note and self._notes.get(snap.id) != snap.note:
                self._notes[snap.id] = snap.note
                self._line(f"{snap.id} {snap.name}: {snap.note}")
            if snap.reconnecting and event.kind in ("progress", "changed"):
                self._reconnecting(snap)
                return
            if snap.id in self._reconnect and not snap.state.is_active:
                del self._reconnect[snap.id]  # paused, failed...: that line follows
            elif snap.id in self._reconnect and event.kind == "progress":
                del self._reconnect[snap.id]
                self._line(f"{snap.id} {snap.name}: the server answers again, continuing")
            if event.kind == "progress":
                self._progress(snap)
            elif event.kind in ("done", "failed") or (event.kind == "changed" and snap.state in
                                                      (TransferState.PAUSED, TransferState.CANCELLED)):
                self._line(f"{snap.id} {snap.name}: {snap.state.value}"
                           + (f": {snap.error}" if snap.error else ""))

    def _progress(self, snap: TransferSnapshot) -> None:
        fraction = snap.bytes_done / snap.size if snap.size else 0.0
        seconds = int(snap.eta_seconds or 0)
        eta = f" ETA {seconds // 60}:{seconds % 60:02d}" if snap.eta_seconds else ""
        moved = f"{format_size(snap.bytes_done)} of {format_size(snap.size)}"
        text = f"{snap.id} {snap.name[:30]} {fraction:6.1%} {moved} {format_size(snap.speed_bps)}/s{eta}"
        if self._tty:
            filled = int(fraction * 20)
            self._stream.write(f"\r[{'#' * filled}{'.' * (20 - filled)}] {text}\x1b[K")
            self._stream.flush()
            self._drawn = True
            return
        now = time.monotonic()
        if now - self._last_line.get(snap.id, 0.0) >= 2.0:
            self._last_line[snap.id] = now
            self._stream.write(text + "\n")
            self._stream.flush()

    def _reconnecting(self, snap: TransferSnapshot) -> None:
        """The server is away: "Cannot reach HOST (why) — reconnecting in 40 s" (the bar's line on a
        terminal, counting down; otherwise one line per planned try)."""
        at = snap.reconnect_at or 0.0
        left = round(at - time.time())
        when = "now" if left <= 0 else f"in {left} s" if left < 60 else \
            f"in {left // 60} min {left % 60:02d} s"
        text = f"{snap.id} {snap.name}: {snap.reconnect_reason or 'the server cannot be reached'} — " \
               f"reconnecting {when}"
        if self._tty:
            self._stream.write(f"\r{text}\x1b[K")
            self._stream.flush()
            self._drawn = True
        elif self._reconnect.get(snap.id) != at:
            self._line(text)
        self._reconnect[snap.id] = at

    def _line(self, text: str) -> None:
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = False
        self._stream.write(text + "\n")
        self._stream.flush()


def _wait(engine: TransferEngine, ids: Sequence[str]) -> list[TransferSnapshot]:
    """Block until every transfer is done, failed, cancelled or paused (by `sgsend pause`)."""
    changed = threading.Event()
    engine.subscribe(lambda event: changed.set() if event.kind != "progress" else None)
    while True:
        snaps = [engine.snapshot(i) for i in ids]
        if all(s.state in WAIT_DONE for s in snaps):
            return snaps
        changed.wait(0.5)
        changed.clear()


def _report(snaps: Sequence[TransferSnapshot], link_only: bool = False) -> int:
    status = 0
    for snap in snaps:
        if snap.state is TransferState.DONE:
            if snap.direction is Direction.RECEIVE:
                print(snap.saved_path)
            elif link_only:
                print(snap.link_only)
                print(snap.key_text)
            else:
                print(snap.share_link)
        else:
            status = 1
            reason = snap.error or snap.state.value
            resumable = snap.state is TransferState.PAUSED or (
                snap.state is TransferState.FAILED and snap.retry_helps)
            hint = f" (run `sgsend resume {snap.id}` to continue)" if resumable else ""
            print(f"sgsend: {clean_text(snap.name)}: {clean_text(reason, 1000)}{hint}", file=sys.stderr)
    sys.stdout.flush()
    return status


FRIENDLY_WARNING = (
    "sgsend: warning: a word-word-NNNN key can be guessed in minutes by anyone who learns the transfer id "
    "(a link without its key, or the server): only for files that need little protection; "
    "--friendly=strong resists guessing (the web UI cannot open it)"
)
STRONG_NOTE = "sgsend: note: a five-word key opens in sgsend and SGraph Send Desktop, not in the web UI"


def _friendly_form(args: argparse.Namespace) -> str | None:
    """None, "web" or "strong". ``--friendly FILE`` (a path right after the flag) still means the web form
    and sends FILE: the flag's value is optional, so argparse takes the next word for it."""
    form = args.friendly
    if form is not None and form not in ("web", "strong"):
        args.paths.insert(0, Path(form))
        form = "web"
    if not args.paths:
        raise SystemExit("sgsend send: error: the following arguments are required: PATH")
    return None if form is None else str(form)


def run_send(args: argparse.Namespace) -> int:
    _setup_logging()
    data_dir = config.data_dir()
    form = _friendly_form(args)
    if form is not None:
        print(STRONG_NOTE if form == "strong" else FRIENDLY_WARNING, file=sys.stderr)
    options = TransferOptions(max_downloads=args.max_downloads, expires_at=args.expires,
                              friendly_key=form is not None, strong_friendly=form == "strong",
                              delete_auth=not args.no_delete_auth)
    with _server(args, data_dir) as (url, local), _engine(args, data_dir, url, local) as engine:
        _check_token(engine, len(args.paths))
        engine.subscribe(ProgressPrinter())
        engine.start()
        ids = engine.send(args.paths, options)
        print("sgsend: sending " + ", ".join(ids) + " (resume with `sgsend resume ID` if interrupted)",
              file=sys.stderr)
        return _report(_wait(engine, ids), link_only=args.link_only)


def _check_token(engine: TransferEngine, count: int) -> None:
    """Before anything is queued: a token the server refuses stops the command with its sentence; one with
    a usage limit prints its uses left (on stderr), and warns when there are fewer than files to send."""
    status = engine.check_token()
    refused = status.error()
    if refused is not None:
        raise refused
    if status.remaining is not None:
        print(f"sgsend: access token: {status.remaining} use{'' if status.remaining == 1 else 's'} left",
              file=sys.stderr)
        if status.remaining < count:
            print(f"sgsend: warning: {count} sends need {count} uses: the server will refuse the last "
                  f"{count - status.remaining}", file=sys.stderr)


def run_token_status(args: argparse.Namespace) -> int:
    """Print what the server says of the access token: valid or not, uses left. Exit 1 when refused."""
    _setup_logging()
    with _server(args, config.data_dir()) as (url, local):
        token = local.token if local is not None else args.token or config.configured_token()
        api = SendApi(url, token)
        try:
            status = api.check_token()
        finally:
            api.close()
    print(status.message)
    return 1 if status.valid is False else 0


def run_get(args: argparse.Namespace) -> int:
    _setup_logging()
    data_dir = config.data_dir()
    link = parse_link(args.link, args.key)  # a bad link fails here, before any server starts
    link.require_key()
    with _server(args, data_dir) as (url, local), _engine(args, data_dir, url, local) as engine:
        engine.subscribe(ProgressPrinter())
        engine.start()
        # an explicit --server wins over the link's host (as for `delete`); SGSEND_SERVER does not
        local_id = engine.receive(args.link, args.key, args.output_dir, server=args.server or None)
        print(f"sgsend: receiving {local_id}", file=sys.stderr)
        return _report(_wait(engine, [local_id]))


def run_list(args: argparse.Namespace) -> int:
    engine = TransferEngine(config.data_dir(), config.configured_server() or "http://127.0.0.1")
    try:
        snaps = engine.snapshots()
        if not snaps:
            print("(no transfers)")
        for snap in snaps:
            arrow = "↑" if snap.direction is Direction.SEND else "↓"
            done = snap.state is TransferState.DONE and snap.file_size is not None
            shown = snap.file_size if done and snap.file_size is not None else snap.size
            size = format_size(shown) if shown or done else "-"  # the window's units (1024-based)
            where = snap.link_only or snap.saved_path or snap.transfer_id or ""
            line = f"{snap.id}  {arrow} {snap.state.value:<11} {size:>10}  {snap.name}  {where}"
            print(line + (f"  ({snap.error})" if snap.error else ""))
    finally:
        engine.close()
    return 0


def run_resume(args: argparse.Namespace) -> int:
    _setup_logging()
    data_dir = config.data_dir()
    with _server(args, data_dir) as (url, local), _engine(args, data_dir, url, local) as engine:
        engine.start()  # transfers made on the local server follow it (TransferEngine.server_for)
        if args.all:
            ids = [r.id for r in engine.journal.all()
                   if r.state in (TransferState.PAUSED, TransferState.FAILED)]
        else:
            ids = [engine.journal.find(args.id).id]
        if not ids:
            print("sgsend: nothing to resume", file=sys.stderr)
            return 0
        engine.subscribe(ProgressPrinter())
        for local_id in ids:
            engine.resume(local_id)
        snaps = _wait(engine, ids)
        return _report(snaps, link_only=False)


def run_pause(args: argparse.Namespace) -> int:
    engine = TransferEngine(config.data_dir(), config.configured_server() or "http://127.0.0.1")
    try:
        row = engine.journal.find(args.id)
        engine.pause(row.id)
        print(f"sgsend: pause requested for {row.id} (a running sgsend stops it within a second)",
              file=sys.stderr)
    finally:
        engine.close()
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    engine = TransferEngine(config.data_dir(), config.configured_server() or "http://127.0.0.1")
    try:
        row = engine.journal.find(args.id)
        engine.cancel(row.id)
        print(f"sgsend: cancel requested for {row.id}", file=sys.stderr)
    finally:
        engine.close()
    return 0


def run_delete(args: argparse.Namespace) -> int:
    _setup_logging()
    text = args.link.strip()
    link: ShareLink
    try:
        link = parse_link(text, args.key)
    except LinkError:
        engine = TransferEngine(config.data_dir(), config.configured_server() or "http://127.0.0.1")
        try:
            row = engine.journal.find(text)
            key_text = engine.secrets.get(row.id)
            if not row.transfer_id or key_text is None:
                raise
            link = share_link_for(row.server_url, row.transfer_id, key_text)
        except UnknownTransferError:
            raise LinkError(f"{text!r} is neither a share link nor a local transfer id") from None
        finally:
            engine.close()
    key = link.require_key()
    server = (args.server or link.base_url or config.configured_server() or "").rstrip("/")
    if not server:
        raise SendError("This link names no server; give one with --server.")
    # Deleting needs the delete-auth secret, never the access token: a link's host may be anyone's.
    api = SendApi(server, None)
    try:
        status = api.delete(link.transfer_id, crypto.delete_auth(key, link.transfer_id))
    finally:
        api.close()
    print(f"{link.transfer_id}: {status.replace('_', ' ')}")
    return 0
