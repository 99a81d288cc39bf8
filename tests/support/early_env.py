"""Loaded as a pytest plugin (``-p tests.support.early_env``), so that it runs before
pytest-django reads the settings: a conftest is imported too late for that.

Without REDIS_URL the quick local run keeps its messages in memory for the in-process
worker; uploads go to a throw-away folder, never to the checkout's var/media, which the
demo uses and which another test run may be writing at the same time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
    os.environ["CELERY_BROKER_URL"] = "memory://"
# Every test client speaks from one address and many tests present wrong keys on purpose:
# the limit on refused keys per address gets its own test (tests/refunds/api/test_limits.py) instead.
os.environ.setdefault("API_INVALID_KEY_LIMIT", "100000/min")

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    # Metric files of this run only, not the checkout's var/prometheus that the demo uses.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="reviewhub-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
if "MEDIA_ROOT" not in os.environ:
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="reviewhub-media-")
    atexit.register(shutil.rmtree, os.environ["MEDIA_ROOT"], ignore_errors=True)
