"""Run everything on this machine: web server, a Celery worker with beat, and demo data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from refunds import demo
from refunds.models import RefundApplication
from refunds.supervise import Supervised


def worker_command() -> list[str]:
    """The embedded worker, with beat in the same process. Without -Q it consumes every queue
    of CELERY_TASK_QUEUES (tests/reviewhub/test_celery.py holds it to that)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "reviewhub",
        "worker",
        "--beat",
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
        "--schedule",
        settings.CELERY_BEAT_SCHEDULE_FILENAME,
    ]


class Command(BaseCommand):
    help = "Migrate, seed demo data and serve the API, admin and portal with a worker and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: object, addrport: str, **options: object) -> None:
        _refuse_a_busy_port(addrport)
        for folder in ("broker", "broker-control", "media"):
            (settings.VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        accounts = demo.seed()
        # Links in the worker's e-mails (printed on its console) point at this server.
        os.environ.setdefault("PORTAL_BASE_URL", f"http://{addrport}")
        # Supervised: started again if it ever exits (see refunds.supervise).
        worker = Supervised(
            worker_command(),
            # DEBUG off in the worker too, as deployed (Celery warns of memory growth with it on).
            env={**os.environ, "DEBUG": "false"},
        )
        # A plain SIGTERM would end this process without the clean-up below, orphaning the worker.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        base = f"http://{addrport}"
        staff = "\n".join(f"    {role:<17} {username} / {password}" for role, username, password in accounts.staff())
        first = (
            RefundApplication.objects.filter(platform=accounts.platform)
            .order_by("created_at")
            .values_list("public_id", flat=True)
            .first()
        )
        example = f"{base}/api/v1/applications/{first}" if first else f"{base}/api/v1/applications"
        self.stdout.write(
            self.style.SUCCESS(f"""
reviewhub is running (database: {settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]}, broker: {settings.CELERY_BROKER_URL.split("://")[0]})

  Start page          {base}/
  Review queue        {base}/admin/refunds/refundapplication/
{staff}
  Merchant portal     {base}/portal/       merchant / {accounts.merchant_password}
  API                 {base}/api/v1/        Authorization: Bearer {accounts.api_key}
  OpenAPI schema      {base}/api/v1/schema/
  Health              {base}/healthz     (liveness)
  Readiness           {base}/readyz      (database, broker, storage, worker, beat)
  Metrics             {base}/metrics     (Prometheus, open to this machine)

  Try:  curl -H 'Authorization: Bearer {accounts.api_key}' {example}
  Passwords and the API key are new on every start. Stop with Ctrl-C.
""")
        )
        serve_as_deployed(addrport)
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


def serve_as_deployed(addrport: str) -> None:
    """Serve the demo with DEBUG off, as a deployment would: a wrong address shows the
    project's 404 page in the visitor's language, not Django's technical page listing every
    URL pattern. Static files are then served by WhiteNoise (from the apps' folders, since
    the demo does not collect them), not by the development server."""
    settings.DEBUG = False
    host = addrport.rpartition(":")[0].strip("[]") or "127.0.0.1"
    if host not in settings.ALLOWED_HOSTS and host not in {"0.0.0.0", "::"}:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    if host in {"0.0.0.0", "::"}:
        # Listening on every interface: visitors arrive by any of this machine's names.
        settings.ALLOWED_HOSTS = ["*"]


def _refuse_a_busy_port(addrport: str) -> None:
    """Raise CommandError if the address is taken. The development server leaves with os._exit
    on a busy port, which would skip stopping the worker and leave it running alone."""
    host, _, port = addrport.rpartition(":")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as probe:
            probe.bind((host.strip("[]") or "127.0.0.1", int(port)))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot serve on {addrport}: {exc}") from None
