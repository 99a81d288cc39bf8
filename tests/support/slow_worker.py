"""A real Celery worker whose first screening of an image hangs, so a test can kill it mid-way.

Run as ``python -m tests.support.slow_worker MARKER_FILE PID_FILE [worker options]``. While
MARKER_FILE exists, the next image check removes it, writes its process id to PID_FILE and
sleeps; every later check runs normally.
"""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")
django.setup()

from reviewhub.celery import app  # noqa: E402
from screening import services  # noqa: E402

marker, pid_file, *worker_args = sys.argv[1:]
real_check = services.check_evidence


def hanging_once(*args, **kwargs):
    if os.path.exists(marker):
        os.remove(marker)
        with open(pid_file, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(120)
    return real_check(*args, **kwargs)


services.check_evidence = hanging_once
app.worker_main(["worker", "--loglevel", "WARNING", "--without-mingle", "--without-gossip", *worker_args])
