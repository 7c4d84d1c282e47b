"""This computer's local (embedded) server, as the CLI and the GUI start it — one rule for both.

* **Stable port**: the first launch picks a port (random in 47400–47999) and keeps it in
  ``DATA_DIR/server/port``; later launches reuse it, so links of earlier sends still open. If another
  program holds it, a free port is chosen and kept, and ``notes`` says that links of this computer's
  earlier sends changed; unfinished transfers still resume (the engine re-points rows made on the local
  server, see ``TransferEngine.server_for``).
* **One server per data dir**: while a process serves the data dir (the desktop app), a second one (e.g.
  ``sgsend send``) joins that server instead of starting its own.
* **Local-network sharing** (``lan=True``; CLI ``--lan`` or ``SGSEND_SHARE_LAN=1``; GUI setting):
  the server binds this host's primary IPv4 address (``SGSEND_LAN_ADDRESS`` overrides the detection),
  so links carry that address and colleagues on the network can download (downloads need no token, as
  on the real service). Uploads, completes and deletes then require the local access token: random,
  generated once, kept in the ``SecretStore`` (keyring or 0600 file) as ``local-server-token``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets as pysecrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sgsend_desktop.core import config
from sgsend_desktop.core.secrets import SecretStore

if TYPE_CHECKING:
    from sgsend_desktop.server.embedded import EmbeddedServer

log = logging.getLogger(__name__)
LAN_ADDRESS_ENV = "SGSEND_LAN_ADDRESS"  # overrides the detected local-network address (tests: 127.0.0.2)
SHARE_LAN_ENV = "SGSEND_SHARE_LAN"  # "1": the CLI shares on the local network
TOKEN_SECRET_ID = "local-server-token"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LocalEndpoint:
    """What the engine knows of the local server: where it is now, its upload token, LAN or not."""

    url: str
    token: str | None = field(default=None, repr=False)
    lan: bool = False  # links open on the local network (else only on this computer)


def share_lan_from_env() -> bool:
    return os.environ.get(SHARE_LAN_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local)


def lan_address() -> str | None:
    """This host's primary IPv4 address on the local network (``SGSEND_LAN_ADDRESS`` overrides it)."""
    override = os.environ.get(LAN_ADDRESS_ENV, "").strip()
    if override:
        return override
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # UDP: only picks the outgoing route, sends nothing
            address = str(probe.getsockname()[0])
        if _usable(address):
            return address
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = str(info[4][0])
            if _usable(address):
                return address
    except OSError:
        pass
    return None


def local_token(data_dir: Path) -> str:
    """The local server's access token for uploads in LAN mode (created on first use)."""
    store = SecretStore(Path(data_dir))
    token = store.get(TOKEN_SECRET_ID)
    if not token:
        token = pysecrets.token_hex(20)  # lower-case hex: the upstream web UI accepts it too
        store.set(TOKEN_SECRET_ID, token)
    return token


class LocalServer:
    """A running local server (ours, or the one of another process we joined) and what to tell the user."""

    def __init__(self, endpoint: LocalEndpoint, server: EmbeddedServer | None, notes: list[str]) -> None:
        self.endpoint = endpoint
        self.notes = notes
        self._server = server

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def owned(self) -> bool:
        """False when another process runs the server (stopping does nothing then)."""
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def open_local_server(data_dir: Path, lan: bool = False) -> LocalServer:
    """Start (or join) the local server of ``data_dir`` (the app's data dir, not ``server/``)."""
    from sgsend_desktop.server.embedded import ServerAlreadyRunning, start_stable_server

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    notes: list[str] = []
    host, token = LOOPBACK, None
    if lan:
        address = lan_address()
        if address is None:
            notes.append("Sharing on the local network is on, but this computer has no local network "
                         "address: links work only on this computer.")
        else:
            host, token = address, local_token(data_dir)
    server_dir = config.embedded_server_dir(data_dir)
    try:
        try:
            server = start_stable_server(server_dir, host, access_token=token)
        except OSError as error:
            if host == LOOPBACK:
                raise
            notes.append(f"Cannot share on the local network at {host} ({error.strerror or error}): links "
                         "work only on this computer.")
            host, token = LOOPBACK, None
            server = start_stable_server(server_dir, host)
    except ServerAlreadyRunning as running:
        joined_lan = running.protected
        notes.append(f"Using the local server another SGraph Send process runs at {running.url}.")
        endpoint = LocalEndpoint(running.url, local_token(data_dir) if joined_lan else None, joined_lan)
        return LocalServer(endpoint, None, notes)
    if server.moved_from is not None:
        notes.append(f"The local server's port {server.moved_from} is used by another program, so it now "
                     f"uses port {server.port}: links of earlier sends from this computer now start with "
                     f"{server.url} (unfinished transfers resume there).")
    for note in notes:
        log.warning("%s", note)
    log.info("local server at %s%s", server.url, " (shared on the local network)" if token else "")
    return LocalServer(LocalEndpoint(server.url, token, lan=token is not None), server, notes)
