"""TransferEngine: the one object the CLI and the GUI drive (Qt-free).

It owns the journal, the secret store, one SendApi per server, a scheduler thread (``core/scheduler.py``:
starts queued transfers, at most ``max_active_transfers`` at a time, polls the journal for pause/cancel
requests from other processes every 0.5 s, publishes coalesced progress ≤ 10/s per transfer), one job
thread per running transfer (which runs an UploadJob or DownloadJob with its own part workers) and the
watchers of the recipients' downloads of finished sends (``core/watchers.py``: event streams, a poller).
Listeners are called on engine threads and must return quickly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets as pysecrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs

from sgsend_desktop.core import config, crypto
from sgsend_desktop.core.api import SendApi, TokenStatus
from sgsend_desktop.core.bandwidth import BandwidthLimiter
from sgsend_desktop.core.download import DownloadJob, partial_path, plain_path, resume_point
from sgsend_desktop.core.errors import (
    ApiError,
    CancelledError,
    EnvelopeError,
    IntegrityError,
    LinkError,
    LocalIOError,
    SendError,
    TransferBusyError,
)
from sgsend_desktop.core.filenames import portable_name
from sgsend_desktop.core.jobs import JobContext
from sgsend_desktop.core.journal import Journal, TransferRow
from sgsend_desktop.core.links import ShareLink, make_link, parse_link
from sgsend_desktop.core.local_server import LocalEndpoint
from sgsend_desktop.core.model import (
    LOCAL_COMPUTER,
    LOCAL_NETWORK,
    Direction,
    EngineEvent,
    TransferOptions,
    TransferSnapshot,
    TransferState,
)
from sgsend_desktop.core.owners import OwnerLock
from sgsend_desktop.core.reconnect import OfflineGates
from sgsend_desktop.core.retry import RetryPolicy
from sgsend_desktop.core.scheduler import Running as _Running
from sgsend_desktop.core.scheduler import Scheduler
from sgsend_desktop.core.secrets import SecretStore
from sgsend_desktop.core.units import format_size
from sgsend_desktop.core.upload import UploadJob, check_token_before_sending
from sgsend_desktop.core.watchers import MAX_WATCHERS, DownloadWatchers
from sgsend_desktop.core.zipper import source_bytes, zip_folder, zip_paths

log = logging.getLogger(__name__)
Listener = Callable[[EngineEvent], None]
_ACTIVE = (TransferState.PREPARING, TransferState.UPLOADING, TransferState.DOWNLOADING,
           TransferState.COMPLETING)


DEFAULT_OPTIONS = TransferOptions()
LOCAL_OPTION = "local_server"  # journal option of a transfer made on this computer's local server


def _made_locally(row: TransferRow) -> bool:
    # "embedded_server": the mark `sgsend` wrote before the engine knew the local server
    return bool(row.options.get(LOCAL_OPTION) or row.options.get("embedded_server"))


def share_link_for(server_url: str, transfer_id: str, key_text: str) -> ShareLink:
    """The share link of a send from its key text (friendly token: no PBKDF2 needed to format it)."""
    if crypto.is_friendly_token(key_text):
        return ShareLink(server_url.rstrip("/"), transfer_id, None, key_text)
    return make_link(server_url, transfer_id, crypto.decode_key(key_text))


def _send_facts(row: TransferRow) -> dict[str, Any]:
    """What a send was made with (its options), for the snapshot: limits, expiry, deletion, items."""
    if row.direction is not Direction.SEND:
        return {}
    expires = str(row.options.get("expires_at") or "")
    expires_at = None
    if expires:
        with contextlib.suppress(ValueError):
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    files = row.options.get("files")
    return {"max_downloads": int(row.options.get("max_downloads") or 0), "expires_at": expires_at,
            "deleted_remote": bool(row.options.get("deleted_remote")),
            "item_count": len(files) if isinstance(files, list) else 1}


def bundle_name(paths: Sequence[Path]) -> str:
    """The zip's name for several files sent as one: "Report and 2 more.zip"."""
    first = portable_name(paths[0].resolve().name) or "folder"
    stem = first if paths[0].is_dir() else Path(first).stem or first
    return f"{stem} and {len(paths) - 1} more.zip"


class TransferEngine:
    def __init__(self, data_dir: Path, server_url: str, token: str | None = None, workers: int = 4,
                 upload_limit_bps: int | None = None, download_limit_bps: int | None = None,
                 max_active_transfers: int = 2, auto_resume: bool = False, *,
                 retry: RetryPolicy | None = None, local: LocalEndpoint | None = None,
                 watch_downloads: bool = True) -> None:
        """``watch_downloads``: follow the recipients' downloads of finished sends (event streams and a
        poller, ``core/watchers.py``): what the window shows; a one-shot CLI command has no use for it."""
        self._data_dir = Path(data_dir)
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server_url = server_url.rstrip("/")
        self._token = token
        self._local = local  # this computer's local server now (rows made on it follow it: server_for)
        self._workers = max(1, workers)
        self._max_active = max(1, max_active_transfers)
        self._auto_resume = auto_resume
        self._watch_downloads = watch_downloads
        self._retry = retry or RetryPolicy()
        self._gates = OfflineGates(self._retry)  # per host: unreachable hosts are probed once for all jobs
        self.journal = Journal(config.journal_path(self._data_dir))
        self.secrets = SecretStore(self._data_dir)
        self._up_limit = BandwidthLimiter(upload_limit_bps)
        self._down_limit = BandwidthLimiter(download_limit_bps)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._listeners: list[Listener] = []
        self._apis: dict[str, SendApi] = {}
        self._retired_apis: list[SendApi] = []  # replaced by set_server, closed with the engine
        self._running: dict[str, _Running] = {}
        self._keys: dict[str, str] = {}
        self._downloads = DownloadWatchers(self)  # the recipients' downloads of finished sends
        self._live: set[str] = set()
        self._scheduler = Scheduler(self)
        self._closed = False
        self._pid = os.getpid()
        self._owners = OwnerLock(self._data_dir)

    # lifecycle ---------------------------------------------------------------------------------------
    @property
    def server_url(self) -> str:
        return self._server_url

    def start(self) -> None:
        """Load the journal: unfinished transfers become PAUSED (or are queued again with auto_resume)."""
        self._owners.claim()
        for row in self.journal.all():
            if row.state.is_final or row.state is TransferState.FAILED:
                continue
            if row.owner_pid != self._pid and self._owners.is_alive(row.owner_pid):
                continue  # another process is running it
            if row.state in _ACTIVE or row.state is TransferState.QUEUED:
                row = self.journal.set_state(row.id, TransferState.PAUSED, owner_pid=None, requested=None,
                                             bytes_done=self._kept_progress(row))
            if self._auto_resume and row.state is TransferState.PAUSED:
                self.journal.set_state(row.id, TransferState.QUEUED, owner_pid=self._pid, requested=None)
        self._follow_local_server()
        if self._watch_downloads:
            self._downloads.poll_earlier_sends()
        with self._lock:
            self._scheduler.start()

    def _kept_progress(self, row: TransferRow) -> int:
        """How far a transfer that stopped without a word (a crash, kill -9, a power cut) will resume
        from — a receive's resume point, a send's finished parts — for its row to show instead of the
        progress it last journaled (0 until a pause or an end: "0 B of 120 MB" after a kill at 30 %)."""
        if row.direction is Direction.RECEIVE:
            return resume_point(row)[0]
        return sum(part.size for part in self.journal.parts(row.id) if part.state == "done")

    def close(self, timeout: float = 10) -> None:
        """Stop every thread; running transfers stop and stay resumable (PAUSED)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            running = list(self._running.items())
            for _, job in running:
                job.control.request("shutdown")
            self._downloads.stop()
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for _, job in running:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
        self._scheduler.join(max(0.1, deadline - time.monotonic()))
        self._downloads.close(timeout=1.0)
        for row in self.journal.all():
            if row.owner_pid == self._pid and row.state is TransferState.QUEUED:
                self.journal.set_state(row.id, TransferState.PAUSED, owner_pid=None)
            elif row.owner_pid == self._pid:
                self.journal.update(row.id, owner_pid=None)
        for api in [*self._apis.values(), *self._retired_apis]:
            api.close()
        self.journal.close()
        self._owners.release()

    # listeners -----------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, kind: str, local_id: str, detail: dict[str, object] | None = None,
              snapshot: TransferSnapshot | None = None) -> None:
        try:
            snap = snapshot or self.snapshot(local_id)
        except SendError:
            return
        event = EngineEvent(kind, snap, detail or {})
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("engine listener failed")

    # snapshots -----------------------------------------------------------------------------------------
    def snapshots(self) -> list[TransferSnapshot]:
        rows = self.journal.all()
        keyless = [row.id for row in rows if row.direction is Direction.SEND and row.id not in self._keys]
        if keyless:  # the share links' keys, in one go (a launch after months of sending)
            self._keys.update(self.secrets.get_many(keyless))
        return [self._snapshot(row) for row in rows]

    def snapshot(self, local_id: str) -> TransferSnapshot:
        return self._snapshot(self.journal.get(local_id))

    def _key_text(self, local_id: str) -> str | None:
        if local_id not in self._keys:
            found = self.secrets.get(local_id)
            if found is None:
                return None
            self._keys[local_id] = found
        return self._keys[local_id]

    def _snapshot(self, row: TransferRow) -> TransferSnapshot:
        job = self._running.get(row.id)
        # a receive that stopped before its first byte (no room, a refused link) still shows its size
        size = row.payload_size or int(row.options.get("declared_size") or 0)
        done = row.bytes_done
        confirmed = row.bytes_done
        speed, eta = 0.0, None
        live = row.id in self._live
        events_down = False
        if job is not None:
            ctx = job.context
            if ctx is not None and ctx.live_events:
                events_down = ctx.events is not None and ctx.events.down
                live = live or not events_down
            view = job.progress.view()
            size = view.total or size
            done, confirmed, speed, eta = view.sent, view.confirmed, view.speed_bps, view.eta_seconds
        if row.state is TransferState.DONE:
            done = confirmed = size
        share_link = key_text = None
        if row.direction is Direction.SEND:
            key_text = self._key_text(row.id)
            if row.state is TransferState.DONE and key_text and row.transfer_id:
                share_link = share_link_for(self.server_for(row), row.transfer_id, key_text).combined()
        reconnect = job.context.reconnect.state() if job is not None and job.context is not None else None
        scope = ""
        if _made_locally(row):
            scope = LOCAL_NETWORK if self._local is not None and self._local.lan else LOCAL_COMPUTER
        return TransferSnapshot(
            id=row.id, direction=row.direction, name=row.name, size=size, state=row.state,
            bytes_done=done, bytes_confirmed=confirmed, speed_bps=speed, eta_seconds=eta,
            transfer_id=row.transfer_id, server_url=self.server_for(row), share_link=share_link,
            link_only=row.link, key_text=key_text, saved_path=row.saved_path, error=row.error,
            download_count=self._downloads.count(row),
            retry_helps=bool(row.options.get("retry_helps", True)),
            live_events=live and reconnect is None,  # the event stream is down with the server
            events_down=events_down and reconnect is None and row.state.is_active,
            created_at=row.created_at, source_path=row.source_path, local_scope=scope,
            reconnect_at=reconnect[0] if reconnect else None,
            reconnect_reason=reconnect[1] if reconnect else None,
            note=str(row.options.get("note") or "") or None, file_size=row.source_size,
            archived=bool(row.options.get("archived")),
            zipping=(row.state is TransferState.PREPARING and not row.source_path
                     and bool(row.options.get("folder") or row.options.get("files"))),
            **_send_facts(row))

    # commands --------------------------------------------------------------------------------------------
    def send(self, paths: Sequence[Path], options: TransferOptions = DEFAULT_OPTIONS) -> list[str]:
        """Queue one upload per path (folders are zipped when their turn comes); return local ids."""
        checked = self._checked_paths(paths)
        opts = self._send_options(options)
        ids = []
        for path in checked:
            local_id = self._new_send_key(options)
            if path.is_dir():
                row_opts = {**opts, "folder": str(path)}
                # named like the folder itself ("..", "." or "/" have no useful name of their own)
                zip_name = (portable_name(path.resolve().name) or "folder") + ".zip"
                self.journal.add_transfer(local_id, Direction.SEND, self._server_url, zip_name,
                                          options=row_opts, owner_pid=self._pid)
            else:
                # the size shows (and counts in the totals) from the start; prepare sets it again
                name = portable_name(path.name)  # the receiver's name for it (the source keeps its own)
                payload = crypto.payload_size(name, path.stat().st_size)
                self.journal.add_transfer(local_id, Direction.SEND, self._server_url, name,
                                          source_path=str(path), payload_size=payload, options=opts,
                                          source_size=path.stat().st_size, owner_pid=self._pid)
            ids.append(local_id)
            self._emit("added", local_id)
        self._kick()
        return ids

    def send_together(self, paths: Sequence[Path], options: TransferOptions = DEFAULT_OPTIONS,
                      name: str | None = None) -> str:
        """Queue several files and folders as ONE upload (one link): zipped into one archive when its
        turn comes, as a folder is (the web UI opens it as a zip). Returns the local id."""
        checked = self._checked_paths(paths)
        if not checked:
            raise LocalIOError("Nothing to send.")
        opts = {**self._send_options(options), "files": [str(p) for p in checked]}
        local_id = self._new_send_key(options)
        self.journal.add_transfer(local_id, Direction.SEND, self._server_url, name or bundle_name(checked),
                                  options=opts, owner_pid=self._pid)
        self._emit("added", local_id)
        self._kick()
        return local_id

    def send_again(self, local_id: str) -> str:
        """A cancelled (or failed) transfer, queued again from the start as a new one in its queue
        place; the old row is removed. Returns the new local id."""
        row = self.journal.get(local_id)
        if row.state is TransferState.DONE or (row.state is not TransferState.CANCELLED
                                               and row.state is not TransferState.FAILED):
            raise TransferBusyError(f"Transfer {local_id} is {row.state.value}; only a cancelled or failed "
                                "transfer can be started again.")
        place = [r.id for r in self.journal.all()].index(local_id)
        if row.direction is Direction.RECEIVE:
            key_text = self._key_text(local_id)
            if key_text is None or not row.transfer_id:
                raise SendError("The key of this download is no longer known: open its link again.")
            link = share_link_for(self.server_for(row), row.transfer_id, key_text).combined()
            new_id = self.receive(link, dest_dir=Path(row.dest_dir) if row.dest_dir else None,
                                  server=self.server_for(row))
        else:
            options = self._options_of(row)
            files, folder = row.options.get("files"), row.options.get("folder")
            if isinstance(files, list):
                new_id = self.send_together([Path(str(f)) for f in files], options, name=row.name)
            else:
                source = folder or row.source_path
                if not source:
                    raise LocalIOError("The file of this transfer is no longer known.")
                [new_id] = self.send([Path(str(source))], options)
        self.discard(local_id)
        self.move(new_id, place)
        return new_id

    def _options_of(self, row: TransferRow) -> TransferOptions:
        """The options a send was made with (an expiry already past: the same duration from now)."""
        facts = _send_facts(row)
        expires_at = facts.get("expires_at")
        expiry = None
        if isinstance(expires_at, float):
            expiry = datetime.fromtimestamp(expires_at, UTC)
            if expires_at <= time.time():
                expiry = datetime.now(UTC) + timedelta(seconds=max(60.0, expires_at - row.created_at))
        key_text = self._key_text(row.id) or ""
        friendly = bool(row.options.get("friendly_key"))
        return TransferOptions(max_downloads=int(row.options.get("max_downloads") or 0), expires_at=expiry,
                               friendly_key=friendly, strong_friendly=friendly and crypto.is_strong_token(
                                   key_text), delete_auth=bool(row.options.get("delete_auth", True)))

    def _checked_paths(self, paths: Sequence[Path]) -> list[Path]:
        checked = []
        for raw in paths:
            path = Path(raw).expanduser().absolute()
            if not path.exists():
                raise LocalIOError(f"{path} does not exist.")
            if not (path.is_file() or path.is_dir()):
                raise LocalIOError(f"{path} is not a file or folder.")
            checked.append(path)
        return checked

    def _new_send_key(self, options: TransferOptions) -> str:
        """A new local id with the send's key (stored before its row exists)."""
        local_id = pysecrets.token_hex(4)
        key_text = (crypto.generate_strong_token() if options.strong_friendly
                    else crypto.generate_friendly_token()) if options.friendly_key else \
            crypto.encode_key(crypto.generate_key())
        self.secrets.set(local_id, key_text)
        self._keys[local_id] = key_text
        return local_id

    def _send_options(self, options: TransferOptions) -> dict[str, object]:
        opts: dict[str, object] = {
            "max_downloads": options.max_downloads,
            "expires_at": options.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if options.expires_at else "",
            "friendly_key": options.friendly_key, "delete_auth": options.delete_auth,
        }
        if self._local is not None and self._server_url == self._local.url:
            opts[LOCAL_OPTION] = True  # follows the local server wherever it runs later (server_for)
        return opts

    def receive(self, link: str, key: str | None = None, dest_dir: Path | None = None,
                server: str | None = None) -> str:
        """Queue a download. `server` (an explicit choice, e.g. `--server`) wins over the link's own host:
        a link's host is where its web page lives, which need not be the API server."""
        parsed = parse_link(link, key)
        parsed.require_key()
        key_text = parsed.key_text
        assert key_text is not None
        dest = Path(dest_dir) if dest_dir else Path(platformdirs.user_downloads_dir())
        server = (server or parsed.base_url or self._server_url).rstrip("/")
        same = self._same_receive(server, parsed.transfer_id, str(dest.absolute()), key_text)
        if same is not None:
            log.info("this link is already being received (%s): going on with that", same)
            self.resume(same)
            return same
        local_id = pysecrets.token_hex(4)
        self.secrets.set(local_id, key_text)
        local = self._local is not None and server == self._local.url  # a link of this computer's server
        self.journal.add_transfer(local_id, Direction.RECEIVE, server, parsed.transfer_id,
                                  transfer_id=parsed.transfer_id, dest_dir=str(dest.absolute()),
                                  owner_pid=self._pid, options={LOCAL_OPTION: True} if local else {})
        self._emit("added", local_id)
        self._kick()
        return local_id

    def _same_receive(self, server: str, transfer_id: str, dest: str, key_text: str) -> str | None:
        """An unfinished receive of this very link into this folder (a link clicked twice, or opened
        again after a pause or a crash), that this engine may run: it goes on, rather than a second
        download of the same file beside it ("video (1).mkv"). A failed one is not reused: its folder
        may be the reason (a full disk)."""
        for row in self.journal.all():
            unfinished = row.state in _ACTIVE or row.state in (TransferState.QUEUED, TransferState.PAUSED)
            if not (unfinished and row.direction is Direction.RECEIVE and row.transfer_id == transfer_id
                    and row.dest_dir == dest and row.server_url.rstrip("/") == server):
                continue
            ours = row.owner_pid in (None, self._pid) or not self._owners.is_alive(row.owner_pid)
            if ours and self.secrets.get(row.id) == key_text:
                return row.id
        return None

    def pause(self, local_id: str) -> None:
        self._stop(local_id, "pause")

    def cancel(self, local_id: str) -> None:
        self._stop(local_id, "cancel")

    def resume(self, local_id: str) -> None:
        """Queue a PAUSED or FAILED transfer again (FAILED: a retry)."""
        row = self.journal.get(local_id)
        if (row.owner_pid not in (None, self._pid) and self._owners.is_alive(row.owner_pid)
                and row.state in _ACTIVE):
            raise TransferBusyError(
                f"Transfer {local_id} is running in another process (pid {row.owner_pid}).")
        if row.state in _ACTIVE or row.state is TransferState.QUEUED:
            if local_id in self._running or row.state is TransferState.QUEUED:
                self.journal.update(local_id, owner_pid=self._pid, requested=None)
                self._kick()
                return
            row = self.journal.set_state(local_id, TransferState.PAUSED)
        if row.state.is_final:
            raise TransferBusyError(f"Transfer {local_id} is {row.state.value}; there is nothing to resume.")
        self.journal.set_state(local_id, TransferState.QUEUED, owner_pid=self._pid, requested=None,
                               error=None)
        self._emit("changed", local_id)
        self._kick()

    def discard(self, local_id: str) -> None:
        self.discard_many([local_id])

    def discard_many(self, local_ids: Sequence[str]) -> None:
        """Forget these transfers (an unfinished one is cancelled first), with one write of the journal
        and of the secrets file for all: one by one, removing 2000 rows rewrote the secrets file 2000
        times."""
        snaps = {}
        for local_id in local_ids:
            row = self.journal.get(local_id)
            if not row.state.is_final:
                self.cancel(local_id)
                job = self._running.get(local_id)
                if job is not None and job.thread is not None:
                    job.thread.join(10)
            snaps[local_id] = self.snapshot(local_id)
        self.journal.remove_many(snaps)
        self.secrets.delete_many(snaps)
        for local_id, snap in snaps.items():
            self._keys.pop(local_id, None)
            self._downloads.forget(local_id)
            self._emit("removed", local_id, snapshot=snap)

    def archive_finished(self) -> list[str]:
        """The finished transfers leave the queue (the window's *Clear finished*) but stay in the journal,
        with their links and saved files: History lists them. Their ids."""
        changes = {row.id: {"options": {**row.options, "archived": True}} for row in self.journal.all()
                   if row.state is TransferState.DONE and not row.options.get("archived")}
        self.journal.update_many(changes)  # one commit: 2000 of them took 3 s
        for local_id in changes:
            self._emit("changed", local_id)
        return list(changes)

    def pause_all(self) -> None:
        for row in self.journal.all():
            if row.state in _ACTIVE or row.state is TransferState.QUEUED:
                self.pause(row.id)

    def resume_all(self) -> None:
        """Resume the paused and failed transfers; those waiting for an unreachable server try it now."""
        for row in self.journal.all():
            if row.state in (TransferState.PAUSED, TransferState.FAILED):
                self.resume(row.id)
        self.reconnect_now()

    def reconnect_now(self) -> int:
        """Transfers waiting for an unreachable server (``core/reconnect.py``) try it at once instead of
        after their backoff — the user's *Try now*. How many hosts were being waited for."""
        return self._gates.probe_now()

    def move(self, local_id: str, new_index: int) -> None:
        self.journal.move(local_id, new_index)
        self._emit("changed", local_id, {"moved": new_index})
        self._kick()

    def delete_remote(self, local_id: str) -> None:
        row = self.journal.get(local_id)
        key_text = self._key_text(local_id)
        if row.direction is not Direction.SEND or not row.transfer_id or key_text is None:
            raise SendError("Only a file you sent (and whose key is still known) can be deleted.")
        key = crypto.resolve_key(key_text)
        self._api(self.server_for(row)).delete(row.transfer_id, crypto.delete_auth(key, row.transfer_id))
        self.journal.update(local_id, options={**self.journal.get(local_id).options, "deleted_remote": True})
        self._emit("changed", local_id, {"deleted": True})

    def set_server(self, server_url: str, token: str | None) -> None:
        """New transfers go to ``server_url`` with ``token``. The clients made so far are closed with the
        engine, not now: running jobs and the download watchers still hold them."""
        with self._lock:
            if server_url.rstrip("/") == self._server_url and token == self._token:
                return  # Settings saved without a change: keep the clients and their connections
            self._server_url = server_url.rstrip("/")
            self._token = token
            self._retired_apis.extend(self._apis.values())
            self._apis.clear()

    @property
    def local_server(self) -> LocalEndpoint | None:
        return self._local

    def set_local_server(self, local: LocalEndpoint | None) -> None:
        """Where this computer's local server runs now (another port, or the LAN address): the rows made
        on it follow it. ``set_server(local.url, local.token)`` makes it the server of new transfers."""
        with self._lock:
            self._local = local
        self._follow_local_server()

    def server_for(self, row: TransferRow) -> str:
        """The server a transfer talks to — for its jobs, its share link and delete. A transfer made on
        this computer's local server (marked in the journal) follows that server wherever it runs now;
        every other transfer keeps the server it was made on."""
        local = self._local
        if local is not None and _made_locally(row):
            return local.url
        return row.server_url

    def check_token(self) -> TokenStatus:
        """What the server of new transfers says of its access token (``check-token``: valid, uses left).
        One request: call it off the GUI thread. Never raises; ``valid`` is None when it cannot say."""
        return self._api(self._server_url).check_token()

    def set_limits(self, workers: int | None = None, upload_limit_bps: int | None = None,
                   download_limit_bps: int | None = None) -> None:
        if workers:
            self._workers = max(1, workers)
        self._up_limit.set_rate(upload_limit_bps)
        self._down_limit.set_rate(download_limit_bps)

    # internals ---------------------------------------------------------------------------------------------
    def _api(self, server_url: str) -> SendApi:
        with self._lock:
            api = self._apis.get(server_url)
            if api is None:
                local = self._local
                token = self._token if server_url == self._server_url else \
                    local.token if local is not None and server_url == local.url else None
                # event streams have their own pool: the watchers + one per running upload (+ slack for
                # a stream being replaced); the transfer pool only serves requests that end
                api = SendApi(server_url, token, pool_size=self._workers * self._max_active,
                              event_streams=MAX_WATCHERS + self._max_active + 2)
                self._apis[server_url] = api
            return api

    def _repoint(self, row: TransferRow) -> TransferRow:
        """Write ``server_for(row)`` into the journal row (with its link; a stored download URL of the
        old address is dropped, its ticket renews it), so jobs and other processes see it too."""
        url = self.server_for(row)
        if url == row.server_url:
            return row
        values: dict[str, object] = {"server_url": url}
        if row.link and row.link.startswith(row.server_url + "/"):
            values["link"] = url + row.link[len(row.server_url):]
        if row.download_url:
            values.update(download_url=None, download_url_expires=None)
        log.info("transfer %s: the local server moved from %s to %s", row.id, row.server_url, url)
        self.journal.update(row.id, **values)
        return self.journal.get(row.id)

    def _follow_local_server(self) -> None:
        if self._local is None:
            return
        for row in self.journal.all():
            busy = row.id in self._running or (
                row.owner_pid not in (None, self._pid) and self._owners.is_alive(row.owner_pid))
            if not busy and _made_locally(row):
                self._repoint(row)

    def _kick(self) -> None:
        with self._lock:
            self._wake.notify_all()

    def _stop(self, local_id: str, reason: str) -> None:
        # Decided under the scheduler's lock: a queued row read here could otherwise be started by
        # the scheduler before it is marked paused, and its job would fail on "paused to preparing".
        with self._lock:
            row = self.journal.get(local_id)
            job = self._running.get(local_id)
            if job is not None:
                job.control.request(reason)
                return
            stoppable = row.state in _ACTIVE or row.state is TransferState.QUEUED
            if row.owner_pid not in (None, self._pid) and self._owners.is_alive(row.owner_pid) and stoppable:
                self.journal.request(local_id, reason)  # the owning process polls for it
                log.info("asked process %s to %s transfer %s", row.owner_pid, reason, local_id)
                return
            if stoppable:  # a cancel too: paused first, so the scheduler leaves it alone meanwhile
                row = self.journal.set_state(local_id, TransferState.PAUSED, owner_pid=None,
                                             requested=None)
        if reason == "cancel":
            if not row.state.is_final:
                self._cancelled(row)  # outside the lock: it may ask the server to abort the upload
        elif stoppable:
            self._emit("changed", local_id)

    def _cancelled(self, row: TransferRow) -> None:
        """Final cleanup of a cancel: abort the multipart upload, remove temp and partial files."""
        if row.direction is Direction.SEND and row.transfer_id and row.upload_id:
            try:
                self._api(self.server_for(row)).cancel_multipart(row.transfer_id, row.upload_id)
            except SendError as error:
                log.info("cancelling the multipart upload on the server failed: %s", error)
        self._remove_temp(row)
        if row.direction is Direction.RECEIVE and row.dest_dir:
            dest = Path(row.dest_dir)
            for leftover in (partial_path(dest, row.id), plain_path(dest, row.id)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        self.journal.set_state(row.id, TransferState.CANCELLED, owner_pid=None, requested=None)
        self._emit("changed", row.id)

    def _remove_temp(self, row: TransferRow) -> None:
        if (row.options.get("folder") or row.options.get("files")) and row.source_path:
            with contextlib.suppress(FileNotFoundError):
                Path(row.source_path).unlink()

    def _run_job(self, local_id: str, job: _Running) -> None:
        row = self._repoint(self.journal.get(local_id))
        ctx = JobContext(
            local_id=local_id, journal=self.journal, secrets=self.secrets, api=self._api(row.server_url),
            workers=self._workers,
            limiter=self._up_limit if row.direction is Direction.SEND else self._down_limit,
            control=job.control, progress=job.progress, changed=lambda: self._job_changed(local_id),
            retry=self._retry, gates=self._gates)
        job.context = ctx  # snapshots read ctx.live_events while the job runs
        try:
            if row.direction is Direction.SEND:
                if row.transfer_id is None:  # a bad or used-up token stops before zipping or reading
                    check_token_before_sending(ctx.api)
                self._zip_if_folder(row, job)
                UploadJob(ctx).run()
                row = self.journal.get(local_id)
                self._remove_temp(row)
                if self._watch_downloads:
                    self._downloads.watch(row)
            else:
                DownloadJob(ctx).run()
                self.secrets.delete(local_id)  # the file is saved: its key is needed no more
            self.journal.update(local_id, owner_pid=None, bytes_done=job.progress.view().total)
            self._emit("done", local_id)
        except BaseException as error:
            self._job_stopped(local_id, job, error)
        finally:
            self._keys.pop(local_id, None)  # the job may have replaced a taken friendly token
            if ctx.live_events:
                self._live.add(local_id)
            with self._lock:
                self._running.pop(local_id, None)
                self._wake.notify_all()
            with contextlib.suppress(SendError):
                self._emit("changed", local_id)

    def _job_changed(self, local_id: str) -> None:
        """A job changed its journal row: republish it. The key is read again, since the job may have
        replaced a taken friendly token (the snapshot must never show the old one)."""
        self._keys.pop(local_id, None)
        self._emit("changed", local_id)

    def _job_stopped(self, local_id: str, job: _Running, error: BaseException) -> None:
        row = self.journal.get(local_id)
        sent = job.progress.view().sent
        reason = job.control.reason if job.control.stop.is_set() else None
        if reason is not None and (isinstance(error, (CancelledError, SendError))):
            if reason == "cancel":
                self._running.pop(local_id, None)
                self._cancelled(row)
                return
            if not row.state.is_final and row.state is not TransferState.PAUSED:
                self.journal.set_state(local_id, TransferState.PAUSED, bytes_done=sent, requested=None,
                                       owner_pid=None)
            return
        if isinstance(error, SendError):
            message = str(error)
        elif isinstance(error, OSError):  # unreadable source, vanished folder, full disk...
            log.warning("transfer %s: %s", local_id, error)
            where = f" ({error.filename})" if error.filename else ""
            message = f"A local file could not be read or written{where}: {error.strerror or error}."
        else:
            log.exception("transfer %s failed unexpectedly", local_id, exc_info=error)
            message = f"Unexpected error: {error!r}"
        if not row.state.is_final:
            # a retry can help after an outage, a full disk or a crash, not when the server said no
            # (deleted, expired, refused token) or the bytes do not decrypt: say so, don't suggest it
            hopeless = isinstance(error, (ApiError, IntegrityError, LinkError, EnvelopeError))
            self.journal.set_state(local_id, TransferState.FAILED, error=message, bytes_done=sent,
                                   owner_pid=None, options={**row.options, "retry_helps": not hopeless})
        self._emit("failed", local_id, {"error": message})

    def _zip_if_folder(self, row: TransferRow, job: _Running) -> None:
        folder = row.options.get("folder")
        files = row.options.get("files")
        if not (folder or isinstance(files, list)) or row.source_path:
            return
        self.journal.set_state(row.id, TransferState.PREPARING)
        target = config.temp_dir(self._data_dir) / f"{row.id}.zip"
        sources = [Path(str(f)) for f in files] if isinstance(files, list) else [Path(str(folder))]
        what = f"the folder {folder}" if folder else "the files"
        try:
            # the row shows the zipping as it goes (bytes read of the files'), and stops with a pause
            total = source_bytes(sources)
            free = shutil.disk_usage(target.parent).free
            if total > free:  # found now, not when the disk is full at 90 %
                raise LocalIOError(
                    f"Not enough space to zip {what}: it needs up to {format_size(total)} in "
                    f"{target.parent} and only {format_size(free)} is free. Free some space there, or send "
                    "its files one link each.")
            job.progress.reset(total)
            self._emit("changed", row.id)

            def check() -> None:
                if job.control.stop.is_set():
                    raise CancelledError(job.control.reason or "stopped")

            if isinstance(files, list):
                zip_paths(sources, target, row.name.removesuffix(".zip"), job.progress.add_sent, check)
            else:
                zip_folder(sources[0], target, job.progress.add_sent, check)
        except OSError as error:
            raise LocalIOError(f"Cannot zip {what}: {error.strerror or error}") from None
        self.journal.update(row.id, source_path=str(target))
        if job.control.stop.is_set():
            raise CancelledError(job.control.reason or "stopped")
