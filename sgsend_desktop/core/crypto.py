"""Upstream-compatible crypto: keys, the SGMETA envelope, streaming AES-256-GCM.

Payload layout (what the SGraph Send browser UI writes and reads)::

    IV (12 bytes) ‖ AES-256-GCM ciphertext of ENVELOPE ‖ tag (16 bytes)
    ENVELOPE = b"SGMETA" ‖ uint32 BE metadata length ‖ metadata JSON ‖ file bytes

One GCM message covers the whole envelope, so it can be produced and checked as a stream in constant
memory. Plaintext is only "final" once the tag at the very end verifies: ``decrypt_chunks_to_dir`` writes
to a hidden temporary file and renames it only then.

Friendly keys come in two forms (docs/format.md, "Friendly keys" has the search costs):

* upstream ``word-word-NNNN`` (what the web UI makes and opens): key = PBKDF2(token, 600k), transfer
  id = first 6 bytes of SHA-256(token). The id is a *fast* oracle: whoever knows it (a link without its
  key, the server's storage) searches the ~10^9 tokens in minutes on a laptop.
* strong ``word-word-word-word-word-NNNN`` (ours, app to app; the web UI cannot open it): one scrypt
  (N=2^17, r=8, p=1: 128 MiB, ~0.5 s) gives both the key (bytes 0..31) and the transfer id (bytes
  32..37), so every guess costs a scrypt, over 3.4 x 10^16 tokens. Links carry the id (``#ID/TOKEN``)
  so that parsing one never runs the KDF.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import AEADDecryptionContext, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sgsend_desktop.core.envelope import EnvelopeReader, envelope_header
from sgsend_desktop.core.errors import IntegrityError, KeyFormatError, LocalIOError
from sgsend_desktop.core.filenames import FILE_MODE, claim_final_name, open_private, safe_filename
from sgsend_desktop.core.wordlist import WORDS

__all__ = [
    "CHUNK_SIZE",
    "IV_SIZE",
    "KEY_SIZE",
    "OVERHEAD",
    "TAG_SIZE",
    "PayloadDecryptor",
    "PayloadReader",
    "StreamDecryptor",
    "decode_key",
    "decrypt_chunks_to_dir",
    "decrypt_file",
    "delete_auth",
    "delete_auth_hash",
    "encode_key",
    "encrypt_file",
    "envelope_header",
    "friendly_key",
    "friendly_transfer_id",
    "generate_friendly_token",
    "generate_key",
    "generate_strong_token",
    "is_friendly_token",
    "is_strong_token",
    "is_upstream_token",
    "iter_encrypted_payload",
    "iter_file_blocks",
    "payload_size",
    "resolve_key",
    "safe_filename",
]

KEY_SIZE = 32
IV_SIZE = 12
TAG_SIZE = 16
OVERHEAD = IV_SIZE + TAG_SIZE  # payload size minus envelope size
CHUNK_SIZE = 1024 * 1024


FRIENDLY_SALT = b"sgraph-send-v1"
FRIENDLY_ITERATIONS = 600_000
STRONG_SALT = b"sgsend-strong-friendly-v1"
STRONG_SCRYPT_N = 2**17           # 128 MiB and ~0.5 s per derivation (r=8): every guess pays both
STRONG_SCRYPT_R = 8
STRONG_SCRYPT_P = 1
STRONG_WORDS = 5                  # what we generate; readers accept 4 to 8 words
# ASCII digits only and no trailing newline (``\d`` and ``$`` would let "apple-mango-١٢٣٤\n" through,
# which the web UI's /^[a-z]+-[a-z]+-\d{4}$/ does not accept).
_FRIENDLY_RE = re.compile(r"[a-z]+-[a-z]+-[0-9]{4}")
_STRONG_RE = re.compile(r"[a-z]+(?:-[a-z]+){3,7}-[0-9]{4}")
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{43}=?$")


# --- keys --------------------------------------------------------------------------------------


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def encode_key(key: bytes) -> str:
    """base64url without padding: the 43 characters after the transfer id in a link."""
    if len(key) != KEY_SIZE:
        raise KeyFormatError(f"a key is {KEY_SIZE} bytes, not {len(key)}")
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def decode_key(text: str) -> bytes:
    text = text.strip()
    if not _KEY_RE.match(text):
        raise KeyFormatError(
            "the key must be 43 characters of base64url (letters, digits, '-' and '_') "
            "or a friendly key like apple-mango-5623"
        )
    try:
        key = base64.urlsafe_b64decode(text.rstrip("=") + "=")
    except (binascii.Error, ValueError) as error:  # pragma: no cover - the regex already guards
        raise KeyFormatError(f"the key is not valid base64url: {error}") from None
    if len(key) != KEY_SIZE:  # pragma: no cover - 43 chars always decode to 32 bytes
        raise KeyFormatError("the key does not decode to 32 bytes")
    return key


def is_upstream_token(text: str) -> bool:
    """``word-word-NNNN``: the web UI's friendly key (its id derives from it quickly)."""
    return _FRIENDLY_RE.fullmatch(text) is not None


def is_strong_token(text: str) -> bool:
    """``word-word-word-word(-word…)-NNNN`` (4 to 8 words): our strong friendly key."""
    return _STRONG_RE.fullmatch(text) is not None


def is_friendly_token(text: str) -> bool:
    """Either friendly form: key text that is words and digits rather than 43 base64url characters."""
    return is_upstream_token(text) or is_strong_token(text)


def generate_friendly_token() -> str:
    """An upstream-form token from the web UI's own word list (one the web UI could have made)."""
    first, second = secrets.choice(WORDS), secrets.choice(WORDS)
    return f"{first}-{second}-{secrets.randbelow(10_000):04d}"


def generate_strong_token() -> str:
    """A strong-form token: five words and four digits (320^5 x 10^4 = 3.4 x 10^16, about 2^55)."""
    words = "-".join(secrets.choice(WORDS) for _ in range(STRONG_WORDS))
    return f"{words}-{secrets.randbelow(10_000):04d}"


@functools.lru_cache(maxsize=16)
def _strong_material(token: str) -> bytes:
    """scrypt(token): 32 key bytes then 6 transfer-id bytes (one slow derivation serves both)."""
    kdf = Scrypt(salt=STRONG_SALT, length=KEY_SIZE + 6, n=STRONG_SCRYPT_N, r=STRONG_SCRYPT_R,
                 p=STRONG_SCRYPT_P)
    return kdf.derive(token.encode("ascii"))


def friendly_key(token: str) -> bytes:
    """The key a friendly token names. Slow either way: call it off the GUI thread.

    Upstream form: PBKDF2-HMAC-SHA256(token, "sgraph-send-v1", 600k) as the web UI derives it.
    Strong form: the first 32 bytes of scrypt(token, "sgsend-strong-friendly-v1", N=2^17, r=8, p=1).
    """
    if is_upstream_token(token):
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=FRIENDLY_SALT,
                         iterations=FRIENDLY_ITERATIONS)
        return kdf.derive(token.encode("utf-8"))
    if is_strong_token(token):
        return _strong_material(token)[:KEY_SIZE]
    raise KeyFormatError(f"{token!r} is not a friendly key (word-word-NNNN)")


def friendly_transfer_id(token: str) -> str:
    """The transfer id a friendly token names, 12 lowercase hex characters.

    Upstream form: the first 6 bytes of SHA-256(token) (fast: this is what makes it weak).
    Strong form: bytes 32..37 of the same scrypt as the key (slow: ~0.5 s, off the GUI thread).
    """
    if is_upstream_token(token):
        return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]
    if is_strong_token(token):
        return _strong_material(token)[KEY_SIZE:].hex()
    raise KeyFormatError(f"{token!r} is not a friendly key (word-word-NNNN)")


def resolve_key(text: str) -> bytes:
    """A base64url key or a friendly token, as the user typed it, to the 32-byte key."""
    text = text.strip().strip("\"'")
    if is_friendly_token(text):
        return friendly_key(text)
    return decode_key(text)


def delete_auth(key: bytes, transfer_id: str) -> str:
    """The ``x-sgraph-transfer-delete-auth`` value: hex SHA-256(key hex ":" transfer id).

    Derived from the key, so only someone holding the key (the sender, or anyone they gave the
    link to) can delete; the server only ever sees its hash at create time.
    """
    return hashlib.sha256(f"{key.hex()}:{transfer_id}".encode("ascii")).hexdigest()


def delete_auth_hash(key: bytes, transfer_id: str) -> str:
    """What ``create`` receives as ``delete_auth_hash``: hex SHA-256 of the delete-auth value."""
    return hashlib.sha256(delete_auth(key, transfer_id).encode("ascii")).hexdigest()


# --- payload sizes -----------------------------------------------------------------------------


def payload_size(filename: str | None, content_size: int) -> int:
    """Bytes on the wire for a file of ``content_size`` bytes named ``filename``."""
    return IV_SIZE + len(envelope_header(filename)) + content_size + TAG_SIZE


# --- encryption --------------------------------------------------------------------------------


def iter_encrypted_payload(
    key: bytes,
    source: BinaryIO,
    filename: str | None,
    iv: bytes | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield the whole payload (IV ‖ ciphertext ‖ tag) of ``source`` in order, in bounded memory.

    The same key, IV and file give the same bytes, which is what lets a resumed upload re-derive
    the parts it still has to send. Callers that resume must persist ``iv`` (it is not secret).
    """
    if len(key) != KEY_SIZE:
        raise KeyFormatError(f"a key is {KEY_SIZE} bytes, not {len(key)}")
    iv = iv if iv is not None else secrets.token_bytes(IV_SIZE)
    if len(iv) != IV_SIZE:
        raise ValueError(f"the IV is {IV_SIZE} bytes, not {len(iv)}")
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    yield iv
    yield encryptor.update(envelope_header(filename))
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    while True:
        count = source.readinto(view)  # type: ignore[attr-defined,unused-ignore]
        if not count:
            break
        yield encryptor.update(view[:count])
    encryptor.finalize()
    yield encryptor.tag


class PayloadReader:
    """``iter_encrypted_payload`` into buffers the caller owns: ``readinto`` fills a view with the next
    payload bytes (IV ‖ ciphertext ‖ tag, the same bytes for the same key, IV and file) and returns how
    many it wrote — fewer only at the end. No allocation per block: an upload encrypts each part straight
    into a reused part buffer."""

    def __init__(self, key: bytes, source: BinaryIO, filename: str | None, iv: bytes,
                 block_size: int = CHUNK_SIZE) -> None:
        if len(key) != KEY_SIZE:
            raise KeyFormatError(f"a key is {KEY_SIZE} bytes, not {len(key)}")
        if len(iv) != IV_SIZE:
            raise ValueError(f"the IV is {IV_SIZE} bytes, not {len(iv)}")
        self._source = source
        self._encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        self._small = bytearray(iv) + self._encryptor.update(envelope_header(filename))  # then the tag
        self._plain = memoryview(bytearray(block_size))
        self._finished = False
        self.produced = 0

    def readinto(self, out: memoryview) -> int:
        written = 0
        while written < len(out):
            if self._small:
                take = min(len(self._small), len(out) - written)
                out[written:written + take] = self._small[:take]
                del self._small[:take]
                written += take
                continue
            if self._finished:
                break
            count = self._source.readinto(  # type: ignore[attr-defined,unused-ignore]
                self._plain[:min(len(self._plain), len(out) - written)])
            if not count:
                self._encryptor.finalize()
                self._small += self._encryptor.tag
                self._finished = True
                continue
            try:
                written += self._encryptor.update_into(self._plain[:count], out[written:written + count])
            except ValueError:  # a backend wanting room for a block more than it is given
                piece = self._encryptor.update(self._plain[:count])
                out[written:written + len(piece)] = piece
                written += len(piece)
        self.produced += written
        return written


def encrypt_file(source: Path, destination: Path, key: bytes, filename: str | None = None,
                 iv: bytes | None = None) -> int:
    """Write the payload of ``source`` to ``destination`` (atomically); return its size."""
    name = source.name if filename is None else filename
    written = 0
    with source.open("rb") as reader, _atomic_writer(destination) as writer:
        for block in iter_encrypted_payload(key, reader, name, iv):
            writer.write(block)
            written += len(block)
    return written


# --- decryption --------------------------------------------------------------------------------


class PayloadDecryptor:
    """Feed payload bytes in order; get the file content back (envelope stripped).

    Content returned by ``feed`` is NOT authenticated until ``finish`` returns: write it somewhere
    temporary. The last 16 bytes seen are held back as the candidate tag.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise KeyFormatError(f"a key is {KEY_SIZE} bytes, not {len(key)}")
        self._key = key
        self._iv = bytearray()
        self._tail = b""
        self._decryptor: AEADDecryptionContext | None = None
        self._envelope = EnvelopeReader()
        self._out: bytearray | None = None
        self.bytes_in = 0

    @property
    def filename(self) -> str | None:
        return self._envelope.filename

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        view = memoryview(data)
        self.bytes_in += len(view)
        if self._decryptor is None:
            needed = IV_SIZE - len(self._iv)
            self._iv += view[:needed]
            view = view[needed:]
            if len(self._iv) < IV_SIZE:
                return b""
            self._decryptor = Cipher(algorithms.AES(self._key), modes.GCM(bytes(self._iv))).decryptor()
        if not view:
            return b""
        decryptor = self._decryptor
        if len(view) >= TAG_SIZE:
            plain = decryptor.update(self._tail) + decryptor.update(view[:-TAG_SIZE])
            self._tail = bytes(view[-TAG_SIZE:])
        else:
            joined = self._tail + bytes(view)
            plain = decryptor.update(joined[:-TAG_SIZE]) if len(joined) > TAG_SIZE else b""
            self._tail = joined[-TAG_SIZE:]
        return self._envelope.feed(plain)

    def feed_view(self, data: bytes | bytearray | memoryview) -> bytes | memoryview:
        """As ``feed``, without allocating: the content comes back as a view of a buffer this
        decryptor reuses, valid only until the next call. ``data`` may be reused by the caller as
        soon as this returns. (Fresh large allocations cost a page fault per 4 KiB; this path keeps
        the same two buffers hot.)"""
        view = memoryview(data)
        if self._decryptor is None or len(view) < TAG_SIZE:
            return self.feed(view)
        self.bytes_in += len(view)
        body = view[:-TAG_SIZE]
        size = len(self._tail) + len(body)
        if self._out is None or len(self._out) < size:
            self._out = bytearray(max(size, CHUNK_SIZE + TAG_SIZE))
        out = memoryview(self._out)
        count = self._decryptor.update_into(self._tail, out) if self._tail else 0
        count += self._decryptor.update_into(body, out[count:])
        self._tail = bytes(view[-TAG_SIZE:])
        # EnvelopeReader copies what it buffers and passes content through untouched: views are fine.
        return self._envelope.feed(cast(bytes, out[:count]))

    def finish(self) -> bytes:
        """Verify the tag; return the last content bytes (only from a payload this short)."""
        if self._decryptor is None or len(self._tail) < TAG_SIZE:
            raise IntegrityError("the encrypted file is truncated (shorter than its IV and tag)")
        try:
            self._decryptor.finalize_with_tag(self._tail)
        except InvalidTag:
            raise IntegrityError(
                "the file could not be decrypted: the key is wrong, or the file was changed or cut short"
            ) from None
        return self._envelope.finish()


class StreamDecryptor:
    """Decrypt a payload of known ``size`` fed strictly in order, in pieces of any size (the ranged
    download's decryptor).

    Unlike PayloadDecryptor nothing is held back: the caller knows that the tag is the payload's last 16
    bytes, feeds only the bytes before it (``feed``, IV included) and hands the tag to ``finish``. Content
    comes back as views of one reused buffer (valid until the next call). After each ``feed``, ``offset``
    (payload bytes consumed) and ``content`` (content bytes returned) describe a point a resumed download
    can start from: ``resume`` rebuilds the GCM state there from the IV, the envelope header's ciphertext
    (``head``: public, it is on the server) and the content already written, by encrypting that content
    again with the same key and IV. Same ciphertext, same GHASH state: CPU only, nothing is fetched again.
    Content is NOT authenticated until ``finish`` returns.
    """

    def __init__(self, key: bytes, size: int) -> None:
        if len(key) != KEY_SIZE:
            raise KeyFormatError(f"a key is {KEY_SIZE} bytes, not {len(key)}")
        if size < OVERHEAD:
            raise IntegrityError("the encrypted file is truncated (shorter than its IV and tag)")
        self._key = key
        self.size = size
        self.offset = 0            # payload bytes consumed (IV included)
        self.content = 0           # content bytes returned (the envelope header excluded)
        self.iv = bytearray()
        self._gcm: AEADDecryptionContext | None = None
        self._envelope = EnvelopeReader()
        self._plain = 0            # bytes out of GCM: header + content
        self._head = bytearray()   # ciphertext of the envelope header while it is being read
        self._head_length: int | None = None
        self._out = bytearray(CHUNK_SIZE + 16)

    @property
    def body_end(self) -> int:
        """Where the tag starts: ``feed`` takes the bytes before it."""
        return self.size - TAG_SIZE

    @property
    def filename(self) -> str | None:
        return self._envelope.filename

    @property
    def head(self) -> bytes | None:
        """The envelope header's ciphertext, once the header is read (None before: no resume point yet)."""
        return bytes(self._head) if self._head_length is not None else None

    def feed(self, data: bytes | bytearray | memoryview,
             out: bytearray | memoryview | None = None) -> bytes | memoryview:
        """Decrypt the next payload bytes; return the content they hold, as a view of ``out`` (a buffer
        of at least ``len(data) + 16`` bytes the caller owns) or, by default, of one buffer this
        decryptor reuses (valid until the next call); a new ``bytes`` where the envelope header ends."""
        view = memoryview(data)
        if self.offset + len(view) > self.body_end:
            raise ValueError("feed() takes the bytes before the tag; the tag goes to finish()")
        if self.offset < IV_SIZE:
            take = min(IV_SIZE - self.offset, len(view))
            self.iv += view[:take]
            self.offset += take
            view = view[take:]
            if self.offset == IV_SIZE:
                self._gcm = Cipher(algorithms.AES(self._key), modes.GCM(bytes(self.iv))).decryptor()
        if not view:
            return b""
        assert self._gcm is not None
        if out is None:
            if len(self._out) < len(view) + 16:  # update_into wants room for a block more than it is given
                self._out = bytearray(len(view) + 16)
            out = self._out
        target = memoryview(out)
        count = self._gcm.update_into(view, target)
        self._plain += count
        self.offset += len(view)
        if self._head_length is None:
            self._head += view  # bounded: the envelope reader gives up on metadata over 1 MiB
        # EnvelopeReader copies what it buffers and passes content through untouched: views are fine.
        content = self._envelope.feed(cast(bytes, target[:count]))
        if self._head_length is None and self._envelope.parsed:
            self._head_length = self._plain - len(content)
            del self._head[self._head_length:]
        self.content += len(content)
        return content

    def finish(self, tag: bytes | bytearray | memoryview) -> bytes:
        """Verify the tag; return the last content bytes (only from a payload this short)."""
        if self._gcm is None or self.offset != self.body_end or len(tag) != TAG_SIZE:
            raise IntegrityError("the encrypted file is truncated (shorter than its IV and tag)")
        try:
            self._gcm.finalize_with_tag(bytes(tag))
        except InvalidTag:
            raise IntegrityError(
                "the file could not be decrypted: the key is wrong, or the file was changed or cut short"
            ) from None
        rest = self._envelope.finish()
        self.content += len(rest)
        return rest

    @classmethod
    def resume(cls, key: bytes, size: int, iv: bytes, head: bytes,
               content: Iterable[bytes | bytearray | memoryview]) -> StreamDecryptor:
        """The decryptor of a payload of ``size`` after its IV, the envelope header (``head``, its
        ciphertext) and the ``content`` already decrypted (blocks in order, e.g. read back from the
        partial file). The content is encrypted again with the same key and IV and fed through.
        Raises IntegrityError when the pieces do not fit together (nothing to resume from)."""
        decryptor = cls(key, size)
        if len(iv) != IV_SIZE:
            raise IntegrityError("the saved IV has the wrong size")
        decryptor.feed(iv)
        encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        head_plain = Cipher(algorithms.AES(key), modes.GCM(iv)).decryptor().update(head)
        if encryptor.update(head_plain) != head:  # pragma: no cover - CTR is its own inverse
            raise IntegrityError("the saved envelope header does not fit the key")
        written = 0
        try:
            decryptor.feed(head)
            scratch = bytearray(CHUNK_SIZE + 16)
            for block in content:
                view = memoryview(block)
                written += len(view)
                if len(scratch) < len(view) + 16:
                    scratch = bytearray(len(view) + 16)
                count = encryptor.update_into(view, scratch)
                decryptor.feed(memoryview(scratch)[:count])
        except ValueError:
            raise IntegrityError("the saved download state is longer than the payload") from None
        if decryptor._head_length != len(head) or decryptor.content != written:
            raise IntegrityError("the saved download state does not fit the payload")
        return decryptor


def decrypt_chunks_to_dir(chunks: Iterable[bytes | bytearray | memoryview], key: bytes, out_dir: Path,
                          fallback_name: str = "download.bin", *, temp_path: Path | None = None) -> Path:
    """Decrypt a payload stream into ``out_dir`` under its SGMETA name; return the path.

    Nothing appears under the final name unless the whole payload verified; an existing file is
    never overwritten ("name (1).ext" is used instead). A chunk may be a view of a buffer the
    producer reuses: each is fully consumed before the next is asked for. ``temp_path`` names the
    hidden temporary file (a stale one, e.g. from a killed process, is truncated and reused);
    by default a fresh random name is used.
    """
    decryptor = PayloadDecryptor(key)
    out_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes]
    try:
        if temp_path is None:
            handle = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".sgsend-", suffix=".partial",
                                                 delete=False)
            temp_path = Path(handle.name)
        else:
            handle = os.fdopen(open_private(temp_path, reuse=True, truncate=True), "wb")
    except OSError as error:
        raise LocalIOError(f"cannot write in {out_dir}: {error.strerror or error}") from None
    try:
        with handle:
            for chunk in chunks:
                handle.write(decryptor.feed_view(chunk))
            handle.write(decryptor.finish())
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), FILE_MODE)  # the fd, not the path: a path may be swapped for a link
        return claim_final_name(temp_path, out_dir, safe_filename(decryptor.filename, fallback_name))
    except OSError as error:
        raise LocalIOError(f"cannot write the file in {out_dir}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()


def iter_file_blocks(reader: BinaryIO, block_size: int = CHUNK_SIZE) -> Iterator[memoryview]:
    """``reader``'s bytes as views of one reused buffer (each valid until the next is taken)."""
    buffer = memoryview(bytearray(block_size))
    while count := reader.readinto(buffer):  # type: ignore[attr-defined,unused-ignore]
        yield buffer[:count]


def decrypt_file(payload: Path, key: bytes, out_dir: Path, fallback_name: str = "download.bin") -> Path:
    with payload.open("rb") as reader:
        return decrypt_chunks_to_dir(iter_file_blocks(reader), key, out_dir, fallback_name)


@contextlib.contextmanager
def _atomic_writer(destination: Path) -> Iterator[BinaryIO]:
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=".sgsend-", suffix=".partial",
                                         delete=False)
    temp_path = Path(handle.name)
    try:
        with handle:
            yield handle  # type: ignore[misc]
            os.fchmod(handle.fileno(), FILE_MODE)
        os.replace(temp_path, destination)
    except OSError as error:
        raise LocalIOError(f"cannot write {destination}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
