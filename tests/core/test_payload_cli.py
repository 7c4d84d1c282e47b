"""`sgsend encrypt` / `sgsend decrypt` as a user runs them (subprocesses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sgsend_desktop.core import crypto


def sgsend(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sgsend_desktop", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_encrypt_new_key_then_decrypt(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_bytes(b"# hello\n" * 5000)
    done = sgsend("encrypt", "--new-key", str(source), str(tmp_path / "payload"))
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert len(key) == 43
    out = tmp_path / "out"
    done = sgsend("decrypt", "--key", key, str(tmp_path / "payload"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == out / "notes.md"
    assert (out / "notes.md").read_bytes() == source.read_bytes()


def test_name_option_and_friendly_key(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")
    assert sgsend("encrypt", "--key", "apple-mango-5623", "--name", "../../b.txt", str(source),
                  str(tmp_path / "p")).returncode == 0
    done = sgsend("decrypt", "--key", "apple-mango-5623", str(tmp_path / "p"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.txt").read_bytes() == b"x"  # sanitised into the current directory


def test_wrong_key_and_tampering_leave_no_file(tmp_path: Path) -> None:
    source = tmp_path / "doc.txt"
    source.write_bytes(b"secret" * 100)
    key = crypto.generate_key()
    crypto.encrypt_file(source, tmp_path / "p", key)
    out = tmp_path / "out"
    out.mkdir()
    wrong = crypto.encode_key(crypto.generate_key())
    done = sgsend("decrypt", "--key", wrong, str(tmp_path / "p"), "-o", str(out))
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "key is wrong" in done.stderr
    data = bytearray((tmp_path / "p").read_bytes())
    data[40] ^= 0x80
    (tmp_path / "p").write_bytes(bytes(data))
    done = sgsend("decrypt", "--key", crypto.encode_key(key), str(tmp_path / "p"), "-o", str(out))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert list(out.iterdir()) == []


def test_a_key_starting_with_a_dash_is_taken_as_the_key(tmp_path: Path) -> None:
    key = b"\xfb" + bytes(31)  # base64url "-w..." : looks like an option to argparse
    assert crypto.encode_key(key).startswith("-")
    source = tmp_path / "k.txt"
    source.write_bytes(b"dash")
    key_text = crypto.encode_key(key)
    assert sgsend("encrypt", "--key", key_text, str(source), str(tmp_path / "p")).returncode == 0
    done = sgsend("decrypt", "--key", key_text, str(tmp_path / "p"), "-o", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "k.txt").read_bytes() == b"dash"


def test_bad_key_text_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"0" * 100)
    done = sgsend("decrypt", "--key", "nope", str(tmp_path / "p"))
    assert done.returncode == 1 and "43 characters" in done.stderr and "Traceback" not in done.stderr
