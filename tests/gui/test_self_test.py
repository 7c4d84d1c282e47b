"""`sgsend-desktop --self-test` runs offscreen, end to end, and reports one line per step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.gui.real_app import cli_env


def test_self_test_passes_offscreen(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "unused")
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "sgsend_desktop.gui", "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),  # not the repo: an installed app runs from anywhere
        timeout=240,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[-1] == "self-test passed"
    steps = [line for line in lines if line.startswith("[")]
    assert len(steps) >= 7 and all(line.startswith("[ok] ") for line in steps)
    assert any("identical" in line for line in steps)
    for check in ("window shown", "app icon renders", "CLI command modules import",
                  "server pages and static files answer 200", "S3 client loads its service model"):
        assert any(check in line for line in steps), check  # what a packaged app can lose
    assert not (tmp_path / "unused").exists()  # it used its own throwaway data dir
