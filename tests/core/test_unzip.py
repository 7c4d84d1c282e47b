"""core/unzip.py: received zips unpack into one new folder, and hostile ones cannot reach outside it."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgsend_desktop.core.errors import LocalIOError
from sgsend_desktop.core.unzip import UnsafeArchiveError, UnzipLimits, unpack_zip
from sgsend_desktop.core.zipper import zip_folder


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are on purpose
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return path


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_a_sent_folder_unpacks_as_that_folder(tmp_path: Path) -> None:
    source = tmp_path / "src" / "photos"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"alpha")
    (source / "sub" / "b.bin").write_bytes(os.urandom(3000))
    (source / ".hidden").write_bytes(b"dotfiles stay dotfiles inside the new folder")
    archive = zip_folder(source, tmp_path / "photos.zip")
    out = tmp_path / "out"

    result = unpack_zip(archive, out)

    assert result.folder == out / "photos" and result.files == 3 and result.skipped == ()
    assert (out / "photos" / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    assert (out / "photos" / ".hidden").exists()
    again = unpack_zip(archive, out)
    assert again.folder == out / "photos (1)" and (out / "photos" / "a.txt").read_bytes() == b"alpha"
    assert sorted(p.name for p in out.iterdir()) == ["photos", "photos (1)"]  # no temp folder left


def test_web_ui_delivery_skips_its_gallery_metadata_and_keeps_page_json(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "2 files.zip", [
        ("report.pdf", b"%PDF"), ("brief/_page.json", b"{}"), ("brief/bio.md", b"# me"),
        ("__gallery__1d6b94eb/_manifest.json", b"{}"), ("_gallery.1d6b94eb07927c1d/thumbnails/a.jpg", b"x"),
        ("_gallery/_manifest.json", b"{}"), ("_preview/a.jpg", b"x"), ("__share__ab12/_manifest.json", b"{}"),
        ("__MACOSX/._report.pdf", b"x"),
    ])

    result = unpack_zip(archive, tmp_path / "out")

    assert result.folder.name == "2 files"
    assert listing(result.folder) == {"report.pdf", "brief", "brief/_page.json", "brief/bio.md"}
    assert len(result.skipped) == 6 and all("metadata" in why for _, why in result.skipped)
    kept = unpack_zip(archive, tmp_path / "all", skip_web_metadata=False)
    assert "__gallery__1d6b94eb/_manifest.json" in listing(kept.folder)


@pytest.mark.parametrize("name", [
    "../evil.txt", "a/../../evil.txt", "a/b/../../../evil.txt", "/tmp/evil.txt", "//server/share/evil.txt",
    "C:/evil.txt", "C:evil.txt", "..\\evil.txt", "a\\..\\..\\evil.txt", "\\\\server\\share\\evil.txt",
])  # (a NUL byte: zipfile itself cuts the name there when reading)
def test_entries_outside_the_folder_refuse_the_whole_archive(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "hostile.zip", [("fine.txt", b"ok"), (name, b"pwned")])
    out = tmp_path / "out"

    with pytest.raises(UnsafeArchiveError, match="not unpacked"):
        unpack_zip(archive, out)

    assert not out.exists() or list(out.iterdir()) == []
    assert not any(p.name == "evil.txt" for p in Path(tmp_path).rglob("*"))


def test_symlinks_and_special_files_are_never_created(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "links.zip", [
        (entry("link", stat.S_IFLNK | 0o777), b"/etc"),
        (entry("link/passwd", stat.S_IFREG | 0o644), b"written into a real folder, not /etc"),
        (entry("fifo", stat.S_IFIFO | 0o644), b""),
        (entry("dev", stat.S_IFBLK | 0o644), b""),
        (entry("run.sh", stat.S_IFREG | 0o4755), b"#!/bin/sh\n"),
    ])

    result = unpack_zip(archive, tmp_path / "out")

    reasons = {why for _, why in result.skipped}
    assert reasons == {"a symbolic link", "a special file (device, pipe or socket)"}
    for path in result.folder.rglob("*"):
        assert not path.is_symlink()
    assert (result.folder / "link").is_dir() and not (result.folder / "fifo").exists()
    mode = (result.folder / "run.sh").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_IXUSR)  # no setuid, no exec bit from the archive


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", [("zeros.bin", bytes(20 * 1024 * 1024))])
    assert archive.stat().st_size < 100_000  # ~1000:1

    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        unpack_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(("limits", "message"), [
    (UnzipLimits(max_entries=3), "4 entries"),
    (UnzipLimits(max_entry_bytes=800), "more than the 800 allowed"),
    (UnzipLimits(max_total_bytes=2500), "more than the 2500 bytes"),
    (UnzipLimits(max_depth=2), "nested"),
])
def test_size_and_count_limits(tmp_path: Path, limits: UnzipLimits, message: str) -> None:
    archive = make_zip(tmp_path / "big.zip", [(f"d/e/f{n}.bin", os.urandom(900)) for n in range(4)],
                       compression=zipfile.ZIP_STORED)
    with pytest.raises(UnsafeArchiveError, match=message):
        unpack_zip(archive, tmp_path / "out", limits=limits)
    assert unpack_zip(archive, tmp_path / "ok").files == 4


def test_the_ratio_limit_leaves_small_entries_alone(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "small.zip", [("zeros.bin", bytes(512 * 1024))])  # ~500:1, but small
    assert unpack_zip(archive, tmp_path / "out").bytes_written == 512 * 1024


def test_damaged_and_foreign_files_are_refused_cleanly(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "damaged.zip", [("a.bin", os.urandom(100_000))],
                       compression=zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    data[5000] ^= 0xFF  # inside a.bin's stored bytes: the CRC no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchiveError, match="damaged"):
        unpack_zip(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []

    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"just text")
    with pytest.raises(UnsafeArchiveError, match="not a readable zip"):
        unpack_zip(not_zip, tmp_path / "out")
    with pytest.raises(LocalIOError):
        unpack_zip(tmp_path / "missing.zip", tmp_path / "out")


def test_password_protected_entries_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "locked.zip", [("secret.txt", b"not really encrypted")])
    data = bytearray(archive.read_bytes())
    data[6] |= 0x1  # the "encrypted" flag bit, in the local header...
    data[data.index(b"PK\x01\x02") + 8] |= 0x1  # ...and in the central directory (zipfile clears it on write)
    archive.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchiveError, match="password"):
        unpack_zip(archive, tmp_path / "out")


def test_duplicates_conflicts_and_odd_names(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "odd.zip", [
        ("a.txt", b"first"), ("a.txt", b"second"), ("f", b"a file"), ("f/inside.txt", b"x"),
        ("CON.txt", b"device name"), ('we<ird>|na:me?.txt', b"x"), ("trailing. ", b"x"),
        ("bell\x07.txt", b"x"), ("./dot/./x.txt", b"x"), ("x" * 300, b"too long"),
    ])

    result = unpack_zip(archive, tmp_path / "out")

    assert (result.folder / "a.txt").read_bytes() == b"first"
    assert listing(result.folder) == {"a.txt", "f", "_CON.txt", "we_ird__na_me_.txt", "trailing",
                                      "bell_.txt", "dot", "dot/x.txt"}
    reasons = sorted(why for _, why in result.skipped)
    assert reasons == ["a name longer than 255 bytes", "a second entry with the same name",
                       "its folder has the name of a file in the archive"]


def test_a_failure_midway_leaves_nothing_behind(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "two.zip", [("a.bin", os.urandom(3 * 1024 * 1024)), ("b.bin", b"x")],
                       compression=zipfile.ZIP_STORED)

    def stop(done: int) -> None:
        if done > 1024 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        unpack_zip(archive, tmp_path / "out", progress=stop)
    assert list((tmp_path / "out").iterdir()) == []


names = st.lists(st.text(alphabet="ab./\\:C\x00 ", min_size=1, max_size=12)
                 .filter(lambda name: bool(name.split("\x00")[0])),  # zipfile cannot write "" (cut at NUL)
                 min_size=1, max_size=5)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry_names=names)
def test_whatever_the_names_nothing_lands_outside_the_new_folder(tmp_path: Path,
                                                                 entry_names: list[str]) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        archive = make_zip(work / "x.zip", [(name, b"data") for name in entry_names])
        parent = work / "parent" / "inner"
        parent.mkdir(parents=True)
        try:
            result = unpack_zip(archive, parent)
        except UnsafeArchiveError:
            assert list(parent.iterdir()) == []
        else:
            assert [p.name for p in parent.iterdir()] == [result.folder.name]
            for path in result.folder.rglob("*"):
                assert path.resolve().is_relative_to(result.folder.resolve()) and not path.is_symlink()
        assert sorted(p.name for p in work.iterdir()) == ["parent", "x.zip"]
        assert [p.name for p in (work / "parent").iterdir()] == ["inner"]
    finally:
        shutil.rmtree(work)
