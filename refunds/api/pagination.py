"""Cursor pages of the API; a malformed page size is a 400 naming the parameter, a forged cursor a 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from refunds.errors import InvalidInput


def invalid_parameter(name: str, message: Any, **details: Any) -> InvalidInput:
    return InvalidInput("invalid_parameter", message, details={"parameter": name, **details})


class CreatedCursorPagination(CursorPagination):
    """Stable pages while rows are added: a cursor on (created_at, id), newest first by default."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise invalid_parameter(self.page_size_query_param,
                                    _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size},
                                    minimum=1, maximum=self.max_page_size)
        return int(raw)

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except (NotFound, ValueError):
            raise self._invalid_cursor() from None

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        # The cursor's position goes into a filter on the ordering field: a forged one that is
        # not a value of that field is refused here rather than by the database.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid_cursor() from None

    def _invalid_cursor(self) -> InvalidInput:
        # 404 like any page that does not exist: a cursor is opaque, so the schema cannot say
        # which strings are cursors, and no well-formed request may get a 400.
        return InvalidInput("invalid_cursor", _("No such page: the cursor is invalid; use the links of a previous page."),
                            details={"parameter": self.cursor_query_param}, status=404)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class EventCursorPagination(CreatedCursorPagination):
    """Webhook deliveries, newest event first (the view annotates ``event_created_at``)."""

    ordering = ("-event_created_at", "-id")
