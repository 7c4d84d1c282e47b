"""A payload made by `sgsend encrypt`, uploaded by multipart and fetched through the presigned URL,
decrypts to the original (`sgsend decrypt`), on both backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers.servers import ServerProc
from tests.server.flows import MIB, download_url, file_md5, multipart_upload, random_file


def sgsend(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sgsend_desktop", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_encrypted_payload_roundtrip(client: httpx.Client, server: ServerProc, tmp_path: Path) -> None:
    original = random_file(tmp_path / "report.pdf", 11 * MIB + 7)
    payload = tmp_path / "payload.bin"
    key = sgsend("encrypt", "--new-key", str(original), str(payload)).strip()
    assert payload.stat().st_size > original.stat().st_size
    # Declares the envelope size, as the web UI does: the stored payload is 28 bytes larger.
    transfer_id, _ = multipart_upload(
        client, payload, declared=payload.stat().st_size - 28, part_size=5 * MIB
    )
    fetched = tmp_path / "fetched.bin"
    with (
        httpx.stream("GET", download_url(client, transfer_id), timeout=60) as response,
        open(fetched, "wb") as out,
    ):
        assert response.status_code == 200
        for block in response.iter_bytes():
            out.write(block)
    assert file_md5(fetched) == file_md5(payload)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    written = Path(sgsend("decrypt", f"--key={key}", str(fetched), "-o", str(out_dir)).strip())
    assert written.name == "report.pdf"
    assert file_md5(written) == file_md5(original)
    for meta in server.data_dir.rglob("meta.json"):  # disk backend: the key never reached the server
        assert key not in meta.read_text()
    assert key not in "".join(server.output)
