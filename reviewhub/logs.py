"""Structured logs: one JSON object per line in production (``LOG_FORMAT=json``), readable text
in the embedded demo; every line carries the request id, task id, application id and actor
where they are known, the same request id in the web process and in the tasks it enqueued.

- The web side's request id is ``refunds.request_id`` (the ``Request-Id`` of the answer).
- Enqueuing puts it into the task message's headers (``before_task_publish``), whether the
  task is sent by the on-commit send of the outbox or directly; the worker binds it with the
  task's id and, for tasks about one application, that application (``task_prerun``).
- The workflow's one transition funnel binds the application and actor (``reviewhub.observe``).
- A redacting filter masks e-mail addresses and API keys and bearer tokens in every message.
  Actors are logged by kind and database id (``reviewer:user:12``), never by user name, which
  may be an e-mail address.

Imports nothing from the models: the settings import it to build ``LOGGING``.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from refunds import request_id as web_request_id

FIELDS = ("request_id", "task_id", "application_id", "actor")
TASK_HEADER = "reviewhub_request_id"

_context: ContextVar[dict[str, str] | None] = ContextVar("reviewhub_log_context", default=None)
task_log = logging.getLogger("reviewhub.tasks")
request_log = logging.getLogger("reviewhub.requests")


def _fields() -> dict[str, str]:
    return _context.get() or {}


def bind(**fields: str) -> None:
    """Add fields to every following log line of this request or task."""
    _context.set({**_fields(), **{k: v for k, v in fields.items() if v}})


def clear() -> None:
    _context.set(None)


def current_request_id() -> str:
    """The request id of the web request, or of the request that caused the running task."""
    return web_request_id.current() or _fields().get("request_id", "")


def actor_text(actor: Any) -> str:
    """``kind:user:<id>`` for people, ``kind:<label>`` for the system and platforms (a slug,
    a key's public prefix): never a user name, which may be an e-mail address."""
    user = getattr(actor, "user", None)
    if user is not None:
        return f"{actor.kind}:user:{user.pk}"
    return f"{actor.kind}:{actor.label}"


class ContextFilter(logging.Filter):
    """Give every record the context fields ("-" where unknown) for either format to show."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _fields()
        record.request_id = current_request_id() or "-"
        for name in ("task_id", "application_id", "actor"):
            if not getattr(record, name, None):
                setattr(record, name, context.get(name, "-"))
        return True


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# API keys (rh_<prefix>_<secret>), and whatever follows "Bearer" or a secret-looking name.
_API_KEY = re.compile(r"\brh_[0-9a-f]+_[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_SECRET = re.compile(r"(?i)\b(password|secret|token|api_key)(\s*[=:]\s*)[^\s,'\"]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = _API_KEY.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _EMAIL.sub(REDACTED, text)


class RedactFilter(logging.Filter):
    """Mask e-mail addresses, API keys and secrets in the message, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call still gets logged, as logging would
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context fields, extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message", *FIELDS])
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei))


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` setting for ``json`` or ``text`` lines on standard error."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "reviewhub.logs.ContextFilter"},
            "redact": {"()": "reviewhub.logs.RedactFilter"},
        },
        "formatters": {
            "json": {"()": "reviewhub.logs.JsonFormatter"},
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s task_id=%(task_id)s %(message)s"
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if log_format == "json" else "plain",
                # Context first, so that redaction sees the final message.
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }


class RequestLogMiddleware:
    """Start each request with an empty context, bind the application a URL names, and (with
    ``LOG_REQUESTS``) log one line per request: method, path without its query, status, time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings

        clear()
        started = time.perf_counter()
        response = self.get_response(request)
        if settings.LOG_REQUESTS:
            request_log.info(
                "%s %s %s",
                request.method,
                _loggable_path(request),
                response.status_code,
                extra={
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "actor": _request_actor(request),
                },
            )
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]) -> None:
        match = getattr(request, "resolver_match", None)
        if match is not None and (match.url_name or "").startswith("application") and "public_id" in kwargs:
            bind(application_id=str(kwargs["public_id"]))


def _loggable_path(request: HttpRequest) -> str:
    """The path, with the tokens some URLs carry (password reset, unsubscribe) masked."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in (match.kwargs if match is not None else {}).items():
        if "token" in name and value:
            path = path.replace(str(value), REDACTED)
    return path


def _request_actor(request: HttpRequest) -> str:
    key = getattr(request, "auth", None)
    if getattr(key, "prefix", None):
        return f"platform:key:{key.prefix}"
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return _fields().get("actor", "-")


@before_task_publish.connect(dispatch_uid="reviewhub.logs.before_task_publish")
def _carry_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Put the request id into the message, for the worker's log lines."""
    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault(TASK_HEADER, request_id)


_application_parameter: dict[str, int | None] = {}


def _application_argument(task: Any, args: Any, kwargs: Any) -> str:
    """The application a task is about, when its signature has an ``application_id``."""
    name = getattr(task, "name", "")
    if name not in _application_parameter:
        try:
            names = list(inspect.signature(task.run).parameters)
        except (TypeError, ValueError):
            names = []
        _application_parameter[name] = names.index("application_id") if "application_id" in names else None
    position = _application_parameter[name]
    if kwargs and "application_id" in kwargs:
        return str(kwargs["application_id"])
    if position is not None and args and len(args) > position:
        return str(args[position])
    return ""


@task_prerun.connect(dispatch_uid="reviewhub.logs.task_prerun")
def _bind_task(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **extra: Any) -> None:
    clear()
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None) or {}
    request_id = getattr(request, TASK_HEADER, None) or headers.get(TASK_HEADER, "")
    bind(request_id=request_id, task_id=task_id, application_id=_application_argument(task, args, kwargs))
    _task_started.set(time.perf_counter())


_task_started: ContextVar[float] = ContextVar("reviewhub_task_started", default=0.0)


@task_postrun.connect(dispatch_uid="reviewhub.logs.task_postrun")
def _unbind_task(task: Any = None, state: str | None = None, **extra: Any) -> None:
    """One line per task with its outcome and duration, then an empty context for the next."""
    name = getattr(task, "name", "?")
    duration = round((time.perf_counter() - _task_started.get()) * 1000, 1)
    task_log.info("task %s finished: %s", name, state, extra={"task": name, "state": state, "duration_ms": duration})
    clear()


@setup_logging.connect(dispatch_uid="reviewhub.logs.setup_logging")
def _keep_django_logging(**kwargs: Any) -> None:
    """Celery workers and beat log through the same configuration as the web (``LOGGING``)
    instead of replacing the root logger's handlers with their own format."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
