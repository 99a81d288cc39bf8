"""The README's run command on the embedded default: web server, worker and beat from nothing but Python."""

import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import wait_for
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def portal_dashboard(base, username, password):
    """Sign in on the login page as a browser would (cookie, CSRF token) and return the portal's dashboard."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{base}/accounts/login/?next=/portal/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/portal/"}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=body, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request, timeout=10) as response:
        assert response.url == f"{base}/portal/", response.url
        return response.read().decode()


def states(database):
    if not database.exists():
        return []
    with sqlite3.connect(database, timeout=5) as db:
        try:
            return [row[0] for row in db.execute("SELECT state FROM refunds_refundapplication")]
        except sqlite3.OperationalError:
            return []


def test_rundemo_serves_the_admin_and_portal_and_its_worker_screens_the_demo_applications(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"}
    }
    env.update(REVIEWHUB_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    port = free_port()
    log = open(tmp_path / "run.log", "w")
    run = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), timeout=90, interval=0.5)
        database = tmp_path / "reviewhub.sqlite3"
        wait_for(lambda: (s := states(database)) and all(state != "submitted" for state in s), timeout=60, interval=0.5)
        assert set(states(database)) <= {"awaiting_merchant", "in_review"}
        output = (tmp_path / "run.log").read_text()
        assert f"http://127.0.0.1:{port}/admin/" in output and "reviewer / " in output and "Bearer rh_" in output
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/readyz" in output and f"{base}/metrics" in output
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            assert "reviewhub_applications" in response.read().decode()
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
                readiness = json.loads(response.read())
        except urllib.error.HTTPError as not_ready:  # 503 until beat's first tick, still the checks
            readiness = json.loads(not_ready.read())
        assert readiness["checks"]["storage"]["status"] == "ok"
        password = re.search(r"/portal/\s+merchant / (\S+)", output).group(1)
        dashboard = portal_dashboard(f"http://127.0.0.1:{port}", "merchant", password)
        assert all(f"order-500{n}" in dashboard for n in range(1, 6))
        # DEBUG is off, as deployed: a wrong address gets the project's page in the visitor's
        # language, never Django's technical page; static files are still served.
        wrong = urllib.request.Request(f"http://127.0.0.1:{port}/no-such-page/", headers={"Accept-Language": "zh-CN"})
        try:
            urllib.request.urlopen(wrong, timeout=10)
            raise AssertionError("a wrong address answered 200")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            page = error.read().decode()
        assert "找不到页面" in page and "URLconf" not in page and "Page not found" not in page
        assert answers(f"http://127.0.0.1:{port}/static/refunds/review.js")
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
        log.close()
    time.sleep(1)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert not leftovers, "the worker outlived the run command"
