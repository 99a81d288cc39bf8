"""Workers on several hosts (bench/multihost.py): two worker hosts and a web host, each a
network namespace, share the queue and the bucket, and every application is screened once."""

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


@pytest.mark.timeout(180)
def test_two_worker_hosts_share_the_applications_and_each_is_screened_once():
    result = subprocess.run(
        [sys.executable, "bench/multihost.py", "--applications", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "ok   both worker hosts screened some" in result.stdout
    assert "ok   exactly one screening record per application" in result.stdout
