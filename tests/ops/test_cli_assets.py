"""``inkwell ops alert-rules`` and ``inkwell ops dashboard`` print the shipped files byte for byte, from any
directory (they read the installed package, as `heroku run inkwell ops alert-rules > rules.yml` needs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import ALERT_RULES_FILE, DASHBOARD_FILE

INKWELL = str(Path(sys.executable).with_name("inkwell"))


@pytest.mark.parametrize(("command", "shipped"), [("alert-rules", ALERT_RULES_FILE), ("dashboard", DASHBOARD_FILE)])
def test_the_command_prints_the_shipped_file(command: str, shipped: Path, tmp_path: Path) -> None:
    result = subprocess.run([INKWELL, "ops", command], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == shipped.read_bytes()
