"""Interop with the browser UI's crypto: Node's Web Crypto encrypts, we decrypt, and back."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto

SCRIPT = Path(__file__).with_name("webcrypto.mjs")
NODE = shutil.which("node")


def node(*args: str) -> str:
    assert NODE, "Node.js is needed for the Web Crypto interop tests (.ci/run installs it)"
    done = subprocess.run([NODE, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_pattern(path: Path, size: int) -> str:
    """A file of ``size`` pseudo-random bytes, written in blocks; returns its SHA-256."""
    digest = hashlib.sha256()
    block = hashlib.sha256(str(size).encode()).digest() * 32768  # 1 MiB
    with path.open("wb") as out:
        remaining, counter = size, 0
        while remaining:
            piece = (counter.to_bytes(8, "big") + block)[: min(remaining, len(block) + 8)]
            out.write(piece)
            digest.update(piece)
            remaining -= len(piece)
            counter += 1
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 * 1024 + 7, 65 * 1024 * 1024 + 3])
def test_browser_encrypts_python_decrypts(tmp_path: Path, size: int) -> None:
    source = tmp_path / "source.bin"
    expected = write_pattern(source, size)
    key = crypto.generate_key()
    payload = tmp_path / "payload"
    node("encrypt", crypto.encode_key(key), str(source), "Résumé 2026 ✓.pdf", str(payload))
    assert payload.stat().st_size == crypto.payload_size("Résumé 2026 ✓.pdf", size)
    out_dir = tmp_path / "out"
    saved = crypto.decrypt_file(payload, key, out_dir)
    assert saved.name == "Résumé 2026 ✓.pdf"
    assert sha256_of(saved) == expected


@pytest.mark.parametrize("size", [0, 5, 2 * 1024 * 1024 + 1, 65 * 1024 * 1024 + 3])
def test_python_encrypts_browser_decrypts(tmp_path: Path, size: int) -> None:
    source = tmp_path / "source.bin"
    expected = write_pattern(source, size)
    key = crypto.generate_key()
    payload = tmp_path / "payload"
    crypto.encrypt_file(source, payload, key, "報告.txt")
    content = tmp_path / "content"
    meta = json.loads(node("decrypt", crypto.encode_key(key), str(payload), str(content)))
    assert meta["filename"] == "報告.txt"
    assert sha256_of(content) == expected


def test_browser_rejects_our_payload_with_wrong_key(tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"secret")
    payload = tmp_path / "payload"
    crypto.encrypt_file(source, payload, crypto.generate_key())
    assert NODE
    done = subprocess.run([NODE, str(SCRIPT), "decrypt", crypto.encode_key(crypto.generate_key()),
                           str(payload), str(tmp_path / "x")], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def test_friendly_key_derivation_matches_web_crypto() -> None:
    token = "apple-mango-5623"
    derived = json.loads(node("friendly", token))
    assert derived == {"transfer_id": "4abd0a491ed3", "key": "5RrU12USo7kBvFH7BM8OJ4qOt-HGsXZbH3NwxIr3sy0"}
    assert crypto.friendly_transfer_id(token) == derived["transfer_id"]
    assert crypto.encode_key(crypto.friendly_key(token)) == derived["key"]
    other = crypto.generate_friendly_token()
    assert json.loads(node("friendly", other))["key"] == crypto.encode_key(crypto.friendly_key(other))
