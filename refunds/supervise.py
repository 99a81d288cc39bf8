"""A small supervisor for the run command's worker: restart it whenever it exits.

A Celery worker can exit on an error it considers unrecoverable (a broker restart at the
wrong moment, an out-of-memory kill); with nothing to start it again, screening would stop.
In production systemd (``Restart=always``) or any process manager does this; the embedded run
command has only itself.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)


class Supervised:
    """Start ``command`` and start it again whenever it exits, until ``terminate``."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str] | None = None, pause: float = 2.0) -> None:
        self.command, self.env, self.pause = list(command), env, pause
        self.restarts = 0
        self._stopping = threading.Event()
        self.process = subprocess.Popen(self.command, env=self.env)
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            code = self.process.wait()
            if self._stopping.is_set():
                return
            self.restarts += 1
            log.warning("worker exited with %s; restarting it (restart %d)", code, self.restarts)
            # A short pause so a worker that cannot start at all does not spin.
            time.sleep(self.pause)
            if not self._stopping.is_set():
                self.process = subprocess.Popen(self.command, env=self.env)

    def terminate(self) -> None:
        self._stopping.set()
        self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self._stopping.set()
        self.process.kill()
