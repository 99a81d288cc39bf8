"""screening.core must be usable without Django (docs/design.md section 4)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_core_pulls_in_no_django_module():
    code = (
        "import sys, screening.core, screening.core.cli\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_core_source_never_names_django_or_the_project():
    core = ROOT / "screening" / "core"
    for path in core.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in (
            "import django",
            "from django",
            "from refunds",
            "import refunds",
            "from screening.models",
            "from reviewhub",
        ):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}"
