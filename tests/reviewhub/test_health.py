"""Liveness and readiness tell the truth: each dependency broken for real, then mended."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone, translation

from reviewhub.celery import app
from reviewhub.heartbeat import BEAT, HeartbeatScheduler, heartbeat
from reviewhub.models import Heartbeat
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def database_unreachable():
    """Point the default connection at a server that is not there, as an outage would."""
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    else:
        connection.settings_dict["NAME"] = "/nonexistent-folder/reviewhub.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


def beat_ticks(folder: Path) -> None:
    """Beat's scheduler ticks once, with no jobs of its own to send."""
    scheduler = HeartbeatScheduler(app, schedule_filename=str(folder / "beat-schedule"))
    scheduler.schedule.clear()
    scheduler.tick()
    scheduler.close()


@pytest.fixture
def alive(tmp_path):
    """A worker and beat that have just recorded their heartbeats."""
    heartbeat.apply()
    beat_ticks(tmp_path)


def readiness(client):
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_liveness_answers_while_the_database_is_down(client):
    with database_unreachable():
        response = client.get("/healthz")
    assert response.status_code == 200


def test_readiness_lists_every_check_as_ok_when_everything_is_up(client, alive):
    status, body = readiness(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "storage", "worker", "beat"}
    assert all(check["status"] == "ok" and check["reason"] for check in body["checks"].values())


def test_readiness_names_the_database_when_it_is_unreachable_and_recovers(client, alive):
    with database_unreachable():
        status, body = readiness(client)
    assert status == 503
    assert "database" in body["failing"]
    assert body["checks"]["database"]["reason"]
    # The reason names the kind of failure, not the server's address.
    assert "127.0.0.1" not in body["checks"]["database"]["reason"]
    assert readiness(client)[0] == 200


def test_readiness_names_the_broker_when_it_is_unreachable_and_recovers(client, alive, monkeypatch):
    nowhere = f"redis://127.0.0.1:{closed_port()}/0"
    # Celery prefers the environment's CELERY_BROKER_URL to its configuration: move both.
    monkeypatch.setattr(app.conf, "broker_url", nowhere)
    monkeypatch.setenv("CELERY_BROKER_URL", nowhere)
    status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["broker"]
    monkeypatch.undo()
    assert readiness(client)[0] == 200


def test_the_embedded_file_broker_is_ready_when_its_folders_exist(client, alive, monkeypatch, tmp_path):
    folders = {"data_folder_in": str(tmp_path / "broker"), "data_folder_out": str(tmp_path / "broker")}
    monkeypatch.setattr(app.conf, "broker_url", "filesystem://")
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    monkeypatch.setitem(app.conf, "broker_transport_options", folders)
    status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["broker"]
    (tmp_path / "broker").mkdir()
    assert readiness(client)[0] == 200


def test_readiness_names_the_storage_when_files_cannot_be_written_and_recovers(client, alive, tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_bytes(b"")
    with override_settings(MEDIA_ROOT=not_a_folder / "media"):
        status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["storage"]
    assert readiness(client)[0] == 200


def test_the_storage_probe_leaves_no_file_behind(client, alive, settings):
    readiness(client)
    probes = Path(settings.MEDIA_ROOT) / "health"
    assert not probes.exists() or not any(probes.iterdir())


def test_readiness_fails_on_a_stale_worker_heartbeat_until_a_worker_runs_the_heartbeat_task(
    client, alive, celery_worker
):
    Heartbeat.objects.exclude(name=BEAT).update(at=timezone.now() - timedelta(hours=1))
    status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["worker"]
    heartbeat.delay()
    wait_for(lambda: readiness(client)[0] == 200)


def test_readiness_fails_without_any_worker_heartbeat(client, alive):
    Heartbeat.objects.exclude(name=BEAT).delete()
    status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["worker"]


def test_readiness_fails_on_a_stale_beat_until_beat_ticks_again(client, alive, tmp_path):
    Heartbeat.objects.filter(name=BEAT).update(at=timezone.now() - timedelta(hours=1))
    status, body = readiness(client)
    assert status == 503
    assert body["failing"] == ["beat"]
    beat_ticks(tmp_path)
    assert readiness(client)[0] == 200


def test_the_health_command_prints_a_table_and_exits_0_when_all_is_well(alive, capsys):
    from django.core.management import call_command

    with translation.override("en"):
        call_command("health")
    table = capsys.readouterr().out
    assert [line.split()[:2] for line in table.splitlines()] == [
        ["database", "ok"],
        ["broker", "ok"],
        ["storage", "ok"],
        ["worker", "ok"],
        ["beat", "ok"],
    ]


def test_the_health_command_exits_1_naming_what_is_down(alive, capsys):
    from django.core.management import call_command

    Heartbeat.objects.filter(name=BEAT).delete()
    with pytest.raises(SystemExit) as exit_, translation.override("en"):
        call_command("health")
    assert exit_.value.code == 1
    assert "beat      failing" in capsys.readouterr().out


def test_the_health_command_exits_2_on_a_bad_argument():
    result = subprocess.run(
        [sys.executable, "manage.py", "health", "--check", "nothing"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_in_production_probes_over_plain_http_are_answered_not_redirected():
    from tests.reviewhub.test_settings import PRODUCTION, run_manage

    probe = (
        "from django.test import Client; c = Client(HTTP_HOST='reviewhub.example'); "
        "print(c.get('/healthz').status_code, c.get('/admin/').status_code)"
    )
    assert run_manage("shell", "-c", probe, **PRODUCTION).stdout.split()[-2:] == ["200", "301"]
