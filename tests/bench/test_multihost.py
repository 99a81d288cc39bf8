"""Workers on several hosts (bench/multihost.py): two worker hosts and a web host, each a
network namespace, share the queue and the bucket; one worker host is cut off the network
mid-run, and the other finishes its work with every application screened once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def namespaces_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("redis-server"):
        return False
    probe = f"rh-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return made


pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL on 127.0.0.1:5432 (set DATABASE_URL)",
    ),
    pytest.mark.skipif(not namespaces_work(), reason="needs root and `ip netns` (network namespaces)"),
]


@pytest.mark.timeout(300)
def test_cutting_one_worker_host_off_mid_run_loses_nothing_and_the_other_finishes_its_work():
    result = subprocess.run(
        [sys.executable, "bench/multihost.py", "--applications", "30", "--cut-one-host"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=290,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rh-w2 cut off after" in result.stdout
    assert "FAIL" not in result.stdout
    for check in (
        "every application screened",
        "both worker hosts screened some",
        "no application screened on both hosts",
        "exactly one result per evidence image",
        "exactly one screening record per application",
        "rh-w2 was cut off mid-run",
        "rh-w2 screened nothing after the cut",
    ):
        assert f"ok   {check}" in result.stdout, result.stdout
