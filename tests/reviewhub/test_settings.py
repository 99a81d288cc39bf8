"""Settings come from the environment and fail loudly on a bad value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewhub.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def test_a_malformed_boolean_stops_start_up(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", default=False)


def test_a_malformed_integer_stops_start_up(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12x")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_lists_drop_empty_items(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", "a.example, ,b.example,")
    assert env_list("SOME_HOSTS", []) == ["a.example", "b.example"]


def run_manage(*args, **env):
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "REVIEWHUB_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-" + "z" * 20,
    "ALLOWED_HOSTS": "reviewhub.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_production_settings_pass_the_deployment_checklist():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_time_limits_above_the_visibility_timeout_are_refused():
    result = run_manage(
        "check",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CELERY_VISIBILITY_TIMEOUT="60",
        SCREENING_TIME_LIMIT="120",
        SCREENING_SOFT_TIME_LIMIT="100",
    )
    assert result.returncode != 0
    assert "below CELERY_VISIBILITY_TIMEOUT" in result.stderr


def test_email_links_default_to_the_first_allowed_host_over_https_in_production():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.PORTAL_BASE_URL)", **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "https://reviewhub.example"


def test_media_goes_to_an_s3_bucket_when_the_environment_says_so():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; d = settings.STORAGES['default']; "
        "print(d['BACKEND'], d['OPTIONS']['bucket_name'], d['OPTIONS']['endpoint_url'], d['OPTIONS']['default_acl'])",
        MEDIA_STORAGE="s3",
        MEDIA_S3_BUCKET="evidence-bucket",
        MEDIA_S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == [
        "refunds.storage.ContentAddressedS3Storage",
        "evidence-bucket",
        "http://127.0.0.1:9000",
        "None",
    ]


def test_s3_media_without_a_bucket_or_an_unknown_storage_stops_start_up():
    assert "MEDIA_S3_BUCKET is required" in run_manage("check", MEDIA_STORAGE="s3").stderr
    result = run_manage("check", MEDIA_STORAGE="nfs")
    assert result.returncode != 0 and "MEDIA_STORAGE must be" in result.stderr
