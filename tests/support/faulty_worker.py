"""A real Celery worker whose image check misbehaves, so tests can watch the queue recover.

Run as ``python -m tests.support.faulty_worker MODE MARKER_FILE PID_FILE [worker options]``:

- ``hang-once``: while MARKER_FILE exists, the next check removes it, writes its process id
  to PID_FILE and hangs (the test then kills that process); later checks run normally.
- ``crash-always``: every check kills its own process, as a decoder crashing on a poison
  image would.
- ``hold``: every check appends its worker's process id (the pool process's parent) to
  PID_FILE, then waits while MARKER_FILE exists (at most 60 s): the test decides when the
  running tasks finish.
"""

import os
import signal
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")
django.setup()

from reviewhub.celery import app  # noqa: E402
from screening import services  # noqa: E402

mode, marker, pid_file, *worker_args = sys.argv[1:]
real_check = services.screen_image


def misbehaving_check(*args, **kwargs):
    if mode == "crash-always":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hold":
        with open(pid_file, "a") as handle:
            handle.write(f"{os.getppid()}\n")
        deadline = time.monotonic() + 60
        while os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        return real_check(*args, **kwargs)
    if os.path.exists(marker):
        os.remove(marker)
        with open(pid_file, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(120)
    return real_check(*args, **kwargs)


services.screen_image = misbehaving_check
app.worker_main(["worker", "--loglevel", "WARNING", "--without-mingle", "--without-gossip", *worker_args])
