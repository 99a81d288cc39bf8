"""Loaded as a pytest plugin (``-p tests.support.early_env``), so that it runs before
pytest-django reads the settings: a conftest is imported too late for that.

Without REDIS_URL the quick local run keeps its messages in memory for the in-process
worker; uploads go to a throw-away folder, never to the checkout's var/media, which the
demo uses and which another test run may be writing at the same time.

The suite runs in two processes (pytest-xdist, ``-n 2`` in pyproject.toml). pytest-django
gives each its own test database; this module gives each its own Redis database, upload
folder and metric files, so that one process's worker never takes the other's tasks and a
test that counts the files under MEDIA_ROOT counts only its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from urllib.parse import urlsplit, urlunsplit

# "gw0", "gw1", … in a pytest-xdist worker process, set before this plugin is loaded.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Set beside each folder this module makes, so that a worker process can tell a folder its
# parent made for itself (inherited with the environment) from one the caller chose.
_MADE_BY = "_REVIEWHUB_TEST_FOLDER_MADE_BY_{}"


def redis_url_for_worker(url: str, worker: str) -> str:
    """Return ``url`` with a Redis database of the worker's own: gw0 keeps the database,
    gwN takes the Nth below it (or above it, near 0). Other URLs are returned unchanged."""
    if not worker or not url.startswith(("redis://", "rediss://")):
        return url
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0)
    own = database - index if database >= index else database + index
    return urlunsplit(parts._replace(path=f"/{own}"))


for variable in ("REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"):
    if os.environ.get(variable):
        os.environ[variable] = redis_url_for_worker(os.environ[variable], XDIST_WORKER)

if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
    os.environ["CELERY_BROKER_URL"] = "memory://"
# Every test client speaks from one address and many tests present wrong keys on purpose:
# the limit on refused keys per address gets its own test (tests/refunds/api/test_limits.py) instead.
os.environ.setdefault("API_INVALID_KEY_LIMIT", "100000/min")


def _own_folder(variable: str, prefix: str) -> None:
    marker = _MADE_BY.format(variable)
    chosen_by_caller = variable in os.environ and marker not in os.environ
    if chosen_by_caller or os.environ.get(marker) == str(os.getpid()):
        return
    os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
    os.environ[marker] = str(os.getpid())
    atexit.register(shutil.rmtree, os.environ[variable], ignore_errors=True)


# Metric files of this run only, not the checkout's var/prometheus that the demo uses.
_own_folder("PROMETHEUS_MULTIPROC_DIR", "reviewhub-metrics-")
_own_folder("MEDIA_ROOT", "reviewhub-media-")
