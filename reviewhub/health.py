"""Liveness and readiness: ``/healthz`` answers while the process does; ``/readyz`` and
``manage.py health`` check what the service needs, each check with a short reason.

Small explicit code rather than django-health-check: its Celery check needs a result backend
(this project ignores results) and its answers do not carry the per-check reasons, heartbeats
or exit codes asked of them here.

Reasons in answers name the kind of failure (the exception's class), never its text, which can
carry hosts and user names; the full error goes to the log and to ``manage.py health``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)

PROBE_FOLDER = "health"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str
    # The exception's own text, for the operator's command and the log only.
    detail: str = field(default="", compare=False)


def _failure(name: str, reason: str, exc: BaseException) -> Check:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return Check(name, False, f"{reason} ({type(exc).__name__})", first_line)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        if not connection.in_atomic_block:
            connection.close()  # the next probe reconnects instead of reusing a broken connection
        return _failure("database", _("cannot query the database"), exc)
    return Check("database", True, _("answers queries"))


def broker_url() -> str:
    from reviewhub.celery import app

    return app.conf.broker_url or ""


def redis_client(url: str):  # noqa: ANN201 - redis.Redis
    import redis

    # Short timeouts: a probe must answer while the broker hangs.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def check_broker() -> Check:
    from reviewhub.celery import app

    url = broker_url()
    scheme = url.split("://", 1)[0]
    try:
        if scheme in {"redis", "rediss"}:
            with redis_client(url) as client:
                client.ping()
        elif scheme == "filesystem":
            # The filesystem transport never "connects": what can fail is its folder.
            for key in ("data_folder_in", "data_folder_out"):
                folder = Path(app.conf.broker_transport_options[key])
                if not folder.is_dir() or not os.access(folder, os.W_OK):
                    raise FileNotFoundError(f"{key} {folder} is missing or not writable")
        else:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return _failure("broker", _("cannot reach the broker"), exc)
    return Check("broker", True, _("reachable (%(transport)s)") % {"transport": scheme})


def check_storage() -> Check:
    from django.core.files.storage import default_storage

    payload = uuid.uuid4().bytes
    name = f"{PROBE_FOLDER}/probe-{uuid.uuid4().hex}"
    try:
        saved = default_storage.save(name, ContentFile(payload))
        try:
            with default_storage.open(saved, "rb") as handle:
                if handle.read() != payload:
                    raise OSError("the probe read back differs from what was written")
        finally:
            default_storage.delete(saved)
    except Exception as exc:  # noqa: BLE001
        return _failure("storage", _("cannot write, read and delete a file"), exc)
    return Check("storage", True, _("writes, reads and deletes files"))


def _heartbeat_check(name: str, rows: Callable[[], list[tuple[str, object]]], missing: str) -> Check:
    try:
        found = rows()
    except Exception as exc:  # noqa: BLE001
        if not connection.in_atomic_block:
            connection.close()
        return _failure(name, _("cannot read heartbeats"), exc)
    if not found:
        return Check(name, False, missing)
    newest = max(at for _who, at in found)
    age = int((timezone.now() - newest).total_seconds())
    if age > settings.HEALTH_HEARTBEAT_MAX_AGE.total_seconds():
        return Check(
            name,
            False,
            _("last heartbeat %(age)d s ago, more than %(limit)d s")
            % {"age": age, "limit": settings.HEALTH_HEARTBEAT_MAX_AGE.total_seconds()},
        )
    fresh = sum(1 for _who, at in found if (timezone.now() - at) <= settings.HEALTH_HEARTBEAT_MAX_AGE)
    return Check(name, True, _("last heartbeat %(age)d s ago (%(count)d alive)") % {"age": age, "count": fresh})


def check_worker() -> Check:
    from reviewhub.heartbeat import WORKER_PREFIX
    from reviewhub.models import Heartbeat

    return _heartbeat_check(
        "worker",
        lambda: list(Heartbeat.objects.filter(name__startswith=WORKER_PREFIX).values_list("name", "at")),
        _("no worker has recorded a heartbeat"),
    )


def check_beat() -> Check:
    from reviewhub.heartbeat import BEAT
    from reviewhub.models import Heartbeat

    return _heartbeat_check(
        "beat",
        lambda: list(Heartbeat.objects.filter(name=BEAT).values_list("name", "at")),
        _("beat has not recorded a heartbeat"),
    )


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
    "worker": check_worker,
    "beat": check_beat,
}


def run_checks(names: list[str] | None = None) -> list[Check]:
    """Run the named checks (all by default), in the order above; log each failure once."""
    results = [CHECKS[name]() for name in (names or list(CHECKS))]
    for result in results:
        if not result.ok:
            log.warning("health check %s failing: %s %s", result.name, result.reason, result.detail)
    return results


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Depends on nothing, so a database outage never restarts it."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every check with its status and reason; 503 naming the failing ones."""
    results = run_checks()
    failing = [r.name for r in results if not r.ok]
    body = {
        "status": "failing" if failing else "ok",
        "failing": failing,
        "checks": {r.name: {"status": "ok" if r.ok else "failing", "reason": r.reason} for r in results},
    }
    return JsonResponse(body, status=503 if failing else 200)
