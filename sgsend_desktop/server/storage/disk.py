"""Disk backend: one directory per transfer (meta.json, payload, uploads/<upload id>/<part files>).

Presigned URLs are signed URLs to this server's own `/storage/...` endpoints (see signing.py), so the
disk backend offers the same presigned multipart flow as S3. Nothing is ever held in memory whole.

Directories are removed by renaming them into ``trash/`` first (atomic), then deleting them: an upload
racing the removal either lands before the rename (and goes with the directory) or finds its directory
gone (a 404), never a file left behind in a half-deleted directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sgsend_desktop.server.meta import TransferMeta
from sgsend_desktop.server.signing import UrlSigner, load_or_create_secret
from sgsend_desktop.server.storage.base import PayloadWriter, StoredPart, StoreError, T, TransferStore
from sgsend_desktop.server.tokens import check_record_name
from sgsend_desktop.server.validation import TRANSFER_ID

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock only
    fcntl = None  # type: ignore[assignment]

READ_CHUNK = 1024 * 1024
GONE = "The transfer or its upload was removed while this request was writing to it"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def part_resource(transfer_id: str, upload_id: str, part_number: int) -> str:
    return f"/storage/{transfer_id}/payload?partNumber={part_number}&uploadId={upload_id}"


def payload_resource(transfer_id: str) -> str:
    return f"/storage/{transfer_id}/payload"


class FileWriter(PayloadWriter):
    """Writes to a temp file next to the target; ``commit`` renames it into place."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            self._handle: BinaryIO = open(self.temp, "wb")
        except FileNotFoundError:  # the directory is gone: deleted or swept meanwhile
            raise StoreError(404, GONE) from None
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def etag(self) -> str:
        return f'"{self._md5.hexdigest()}"'

    def commit(self) -> int:
        self.commit_as(self.target)
        return self.size

    def commit_as(self, target: Path) -> None:
        self._handle.close()
        try:
            os.replace(self.temp, target)
        except FileNotFoundError:  # the directory was removed (renamed away) while the body streamed in
            self.temp.unlink(missing_ok=True)
            raise StoreError(404, GONE) from None

    def discard(self) -> None:
        self._handle.close()
        self.temp.unlink(missing_ok=True)


class DiskStore(TransferStore):
    kind = "disk"
    signs_own_urls = True
    assembly_part_delay = 0.0  # test hook (SGSEND_TEST_HOOKS): seconds to sleep before copying each part

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "transfers").mkdir(parents=True, exist_ok=True)
        self.signer = UrlSigner(load_or_create_secret(root))
        self._lock = threading.Lock()
        self._trash = root / "trash"

    # --- paths ----------------------------------------------------------------------------------
    def _dir(self, transfer_id: str) -> Path:
        return self.root / "transfers" / transfer_id

    def _meta_path(self, transfer_id: str) -> Path:
        return self._dir(transfer_id) / "meta.json"

    def payload_path(self, transfer_id: str) -> Path:
        return self._dir(transfer_id) / "payload"

    def _upload_dir(self, transfer_id: str, upload_id: str) -> Path:
        return self._dir(transfer_id) / "uploads" / upload_id

    def _move_to_trash(self, path: Path) -> Path | None:
        """Rename ``path`` into trash/ (atomic: nothing can be added to it afterwards); None if it is gone.
        Where a directory cannot be renamed (Windows, a file open inside) it is deleted in place."""
        self._trash.mkdir(exist_ok=True)
        target = self._trash / secrets.token_hex(8)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            return None
        return target

    def _discard_tree(self, path: Path) -> None:
        moved = self._move_to_trash(path)
        if moved is not None:
            shutil.rmtree(moved, ignore_errors=True)

    # --- metadata -------------------------------------------------------------------------------
    def _write_meta(self, meta: TransferMeta) -> None:
        path = self._meta_path(meta.transfer_id)
        temp = path.with_name(f".meta.{secrets.token_hex(6)}.tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(meta.to_dict(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)

    def create(self, meta: TransferMeta) -> bool:
        with self._lock:
            directory = self._dir(meta.transfer_id)
            try:
                directory.mkdir(parents=True)
            except FileExistsError:
                return False
            self._write_meta(meta)
            return True

    def load(self, transfer_id: str) -> TransferMeta | None:
        try:
            with open(self._meta_path(transfer_id), encoding="utf-8") as handle:
                return TransferMeta.from_dict(json.load(handle))
        except FileNotFoundError:
            return None

    def update(self, transfer_id: str, change: Callable[[TransferMeta], T]) -> tuple[TransferMeta, T]:
        with self._lock:
            meta = self.load(transfer_id)
            if meta is None:
                raise StoreError(404, "Transfer not found")
            result = change(meta)
            self._write_meta(meta)
            return meta, result

    # --- payload --------------------------------------------------------------------------------
    def payload_writer(self, transfer_id: str) -> PayloadWriter:
        return FileWriter(self.payload_path(transfer_id))

    def payload_size(self, transfer_id: str) -> int | None:
        try:
            return self.payload_path(transfer_id).stat().st_size
        except FileNotFoundError:
            return None

    def read_payload(self, transfer_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            handle = open(self.payload_path(transfer_id), "rb")
        except FileNotFoundError:
            raise StoreError(404, "Payload not found") from None
        return self._read_range(handle, start, end)

    @staticmethod
    def _read_range(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = handle.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete_payload(self, transfer_id: str) -> None:
        self.payload_path(transfer_id).unlink(missing_ok=True)
        self._discard_tree(self._dir(transfer_id) / "uploads")

    # --- multipart ------------------------------------------------------------------------------
    def create_multipart(self, transfer_id: str) -> str:
        upload_id = secrets.token_hex(16)
        uploads = self._dir(transfer_id) / "uploads"
        try:  # never parents=True: a transfer removed meanwhile must not come back as an empty directory
            uploads.mkdir(exist_ok=True)
            (uploads / upload_id).mkdir()
        except FileNotFoundError:
            raise StoreError(404, "Transfer not found") from None
        return upload_id

    def has_upload(self, transfer_id: str, upload_id: str) -> bool:
        return self._upload_dir(transfer_id, upload_id).is_dir()

    def part_writer(self, transfer_id: str, upload_id: str, part_number: int) -> FileWriter:
        directory = self._upload_dir(transfer_id, upload_id)
        if not directory.is_dir():
            raise StoreError(404, "No such upload")
        return FileWriter(directory / f"{part_number:05d}.incoming")

    def commit_part(self, writer: FileWriter, part_number: int) -> str:
        """Name the part file after its MD5 (one atomic rename) and drop older copies of the part."""
        directory = writer.target.parent
        etag = writer.etag
        final = directory / f"{part_number:05d}.{etag.strip(chr(34))}"
        writer.commit_as(final)
        for old in directory.glob(f"{part_number:05d}.*"):
            if old != final and not old.name.startswith("."):
                old.unlink(missing_ok=True)
        return etag

    def list_parts(self, transfer_id: str, upload_id: str) -> list[StoredPart]:
        directory = self._upload_dir(transfer_id, upload_id)
        if not directory.is_dir():
            raise StoreError(404, "No such upload")
        parts: dict[int, StoredPart] = {}
        with os.scandir(directory) as entries:
            for entry in entries:
                number_text, _, md5 = entry.name.partition(".")
                if entry.name.startswith(".") or not number_text.isdigit() or len(md5) != 32:
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                part = StoredPart(int(number_text), f'"{md5}"', stat.st_size, stat.st_mtime_ns / 1e9)
                previous = parts.get(part.part_number)
                if previous is None or part.last_modified > previous.last_modified:
                    parts[part.part_number] = part
        return [parts[number] for number in sorted(parts)]

    def complete_multipart(self, transfer_id: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        stored = {part.part_number: part for part in self.list_parts(transfer_id, upload_id)}
        directory = self._upload_dir(transfer_id, upload_id)
        ordered = sorted(parts)
        if not ordered:
            raise StoreError(400, "No parts given")
        sources: list[tuple[int, Path]] = []
        for number, etag in ordered:
            part = stored.get(number)
            if part is None:
                raise StoreError(400, f"Part {number} was not uploaded")
            if part.etag.strip('"') != etag.strip().strip('"'):
                raise StoreError(400, f"Part {number}: ETag does not match the stored part")
            sources.append((number, directory / f"{number:05d}.{part.etag.strip(chr(34))}"))
        md5s = hashlib.md5(usedforsecurity=False)
        target = self.payload_path(transfer_id)
        temp = target.with_name(f".payload.{secrets.token_hex(6)}.tmp")
        try:
            with open(temp, "wb") as out:
                for (number, source), (_, etag) in zip(sources, ordered, strict=True):
                    if self.assembly_part_delay:
                        time.sleep(self.assembly_part_delay)
                    md5s.update(bytes.fromhex(etag.strip().strip('"')))
                    self._copy_part(directory, number, source, out)
            os.replace(temp, target)
        except FileNotFoundError:  # the transfer directory itself is gone (removed meanwhile)
            raise StoreError(404, "No such upload") from None
        finally:
            temp.unlink(missing_ok=True)  # after a failure (a removed upload, a full disk ...): no remains
        self._discard_tree(directory)
        return f'"{md5s.hexdigest()}-{len(ordered)}"'

    @staticmethod
    def _copy_part(directory: Path, number: int, source: Path, out: BinaryIO) -> None:
        try:
            handle = open(source, "rb")
        except FileNotFoundError:
            if not directory.is_dir():  # aborted, or the transfer deleted, while we assembled
                raise StoreError(404, "No such upload: it was aborted or deleted during assembly") from None
            raise StoreError(409, f"Part {number} was replaced during assembly; complete again") from None
        with handle:
            shutil.copyfileobj(handle, out, READ_CHUNK)

    def abort_multipart(self, transfer_id: str, upload_id: str) -> None:
        directory = self._upload_dir(transfer_id, upload_id)
        if not directory.is_dir():
            raise StoreError(404, "No such upload")
        self._discard_tree(directory)

    # --- housekeeping ---------------------------------------------------------------------------
    def transfer_ids(self) -> Iterator[str]:
        with os.scandir(self.root / "transfers") as entries:
            names = [entry.name for entry in entries if TRANSFER_ID.fullmatch(entry.name) and entry.is_dir()]
        yield from names

    def remove_transfer(self, transfer_id: str) -> None:
        with self._lock:  # no meta update of this transfer is half-way meanwhile
            moved = self._move_to_trash(self._dir(transfer_id))
        if moved is not None:
            shutil.rmtree(moved, ignore_errors=True)

    def multipart_uploads(self) -> list[tuple[str, str, float]]:
        found: list[tuple[str, str, float]] = []
        for transfer_id in self.transfer_ids():
            try:
                with os.scandir(self._dir(transfer_id) / "uploads") as entries:
                    for entry in entries:
                        if entry.is_dir():
                            found.append((transfer_id, entry.name, entry.stat().st_mtime))
            except FileNotFoundError:
                continue
        return found

    def remove_leftovers(self, older_than: float) -> int:
        """Temp files of writes a crash interrupted, transfer directories whose record was never written,
        and anything left in trash/."""
        removed = 0
        if self._trash.is_dir():
            with os.scandir(self._trash) as trash:
                for entry in trash:
                    shutil.rmtree(entry.path, ignore_errors=True)
        for transfer_id in self.transfer_ids():
            directory = self._dir(transfer_id)
            try:
                if not (directory / "meta.json").exists():
                    if directory.stat().st_mtime < older_than:
                        self._discard_tree(directory)
                        removed += 1
                    continue
                folders = [directory]
                if (directory / "uploads").is_dir():
                    with os.scandir(directory / "uploads") as uploads:
                        folders += [Path(entry.path) for entry in uploads if entry.is_dir()]
                for folder in folders:
                    with os.scandir(folder) as entries:
                        stale = [
                            Path(entry.path)
                            for entry in entries
                            if is_temp_name(entry.name)
                            and entry.is_file()
                            and entry.stat().st_mtime < older_than
                        ]
                    for path in stale:
                        path.unlink(missing_ok=True)
                        removed += 1
            except FileNotFoundError:  # removed meanwhile
                continue
        return removed

    # --- presigned URLs -------------------------------------------------------------------------
    def _signed(self, base_url: str, method: str, resource: str, expiry: int) -> str:
        expires, sig = self.signer.sign(method, resource, expiry)
        joiner = "&" if "?" in resource else "?"
        return f"{base_url}{resource}{joiner}expires={expires}&sig={sig}"

    def part_url(self, transfer_id: str, upload_id: str, part_number: int, base_url: str, expiry: int) -> str:
        return self._signed(base_url, "PUT", part_resource(transfer_id, upload_id, part_number), expiry)

    def upload_url(self, transfer_id: str, base_url: str, expiry: int) -> str:
        return self._signed(base_url, "PUT", payload_resource(transfer_id), expiry)

    def download_url(self, transfer_id: str, base_url: str, expiry: int) -> str:
        return self._signed(base_url, "GET", payload_resource(transfer_id), expiry)

    def ticket_secret(self) -> bytes:
        """The URL-signing secret (``signing.key``); tickets derive a key of their own from it."""
        return self.signer.secret

    # --- small server records -----------------------------------------------------------------------
    def _record_path(self, name: str) -> Path:
        return self.root / f"{check_record_name(name)}.json"

    def load_record(self, name: str) -> dict[str, Any] | None:
        try:
            with open(self._record_path(name), encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def update_record(self, name: str, change: Callable[[dict[str, Any]], T]) -> tuple[dict[str, Any], T]:
        """Under this process's lock and an exclusive ``flock`` of ``<dir>/.lock`` (another process on the
        same data dir waits); the new record replaces the old one atomically (temp file, fsync, rename)."""
        path = self._record_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, _file_lock(path.parent / ".lock"):
            record = self.load_record(name) or {}
            result = change(record)
            temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
            try:
                with open(temp, "w", encoding="utf-8") as handle:
                    json.dump(record, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, path)
            finally:
                temp.unlink(missing_ok=True)
            return record, result


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock
