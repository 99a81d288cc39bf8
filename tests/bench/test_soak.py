"""The soak (bench/load.py) at a reduced size: 80 applications through gunicorn, a Celery
worker and beat on PostgreSQL and a private Redis, with every fault of the full run injected
on the same schedule (Redis restarted three times, the worker SIGKILLed three times, every
PostgreSQL connection ended twice, beat down while windows expire), then the audit of the
whole database. The sweeper and beat run on shortened periods so that the recovery after
each fault fits in a CI run; the full 10 000 is the same command without the options
(RELIABILITY.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = [
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (set DATABASE_URL)",
    ),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server (the soak starts its own)"),
]

# Every count the soak prints that must be zero, by the name in its table.
MUST_BE_ZERO = (
    "duplicates (applications beyond one per key)",
    "lost (accepted or attempted, not in the database)",
    "HTTP 500 answers",
    "applications not decided at the end",
    "double decisions",
    "broken audit chains",
    "webhook deliveries missing",
    "webhook deliveries out of order",
    "worker/web/beat exits not caused by a fault",
    "invariant: duplicate_idempotent_applications",
    "invariant: stuck_idempotency_keys",
    "invariant: evidence_without_result_or_pending_screening",
    "invariant: system_approvals_without_clean_screening",
    "invariant: decided_without_one_decision",
    "invariant: broken_audit_chains",
)


@pytest.fixture
def soak_database_url() -> Iterator[str]:
    """A throw-away database of its own on the same server: the soak migrates it, its faults end
    every connection to it, and neither must touch the database pytest-django is using."""
    import psycopg

    name = f"reviewhub_soak_ci_{os.getpid()}"
    server = urlparse(DATABASE_URL)
    maintenance = urlunparse(server._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(server._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table_of(output: str) -> dict[str, str]:
    """The soak's result table as {measure: value}."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


@pytest.mark.timeout(600)
def test_eighty_applications_under_every_fault_end_with_every_must_be_zero_count_at_zero(soak_database_url):
    env = dict(os.environ, DATABASE_URL=soak_database_url)
    env.pop("REDIS_URL", None)  # the soak's own redis-server, which it restarts
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "bench/load.py",
            "--applications",
            "80",
            "--stale-after",
            "16",
            "--beat-interval",
            "2",
            "--beat-late",
            "8",
            "--timeout",
            "400",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=560,
    )
    output = result.stdout + result.stderr
    table = table_of(result.stdout)
    assert table.get("applications submitted (201)") == "80", output
    assert table.get("applications in the database") == "80", output
    assert table.get("decisions") == "80", output
    assert {name: table.get(name) for name in MUST_BE_ZERO} == dict.fromkeys(MUST_BE_ZERO, "0"), output
    assert result.returncode == 0, output
    faults = [line for line in result.stdout.splitlines() if " s  " in line and ":" in line]
    for kind in ("Redis:", "worker:", "PostgreSQL:", "beat: beat killed", "beat: beat started again"):
        assert any(kind in line for line in faults), f"no {kind} fault was injected\n{output}"
