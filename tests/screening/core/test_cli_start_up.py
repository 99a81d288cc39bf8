"""The command line's parent process only reads the manifest and hands the lines out: it does
not pay for importing what only the screening of a file needs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_it_starts_the_command_line_without_importing_scipy():
    code = "import sys, screening.core.cli\nprint('scipy' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
