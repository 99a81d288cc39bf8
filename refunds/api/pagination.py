"""Cursor pages of the API; a malformed page size is a 400 naming the parameter, a forged cursor a 404.

A cursor holds the last row's ordering value *and its public id* (a keyset), never an offset:
rows that share a value (two applications changed in the same microsecond, two of the same
amount) are neither skipped nor repeated when rows around them change between two page
fetches. The public id, not the primary key, breaks ties so that a cursor tells nothing about
how many rows the database holds.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from refunds.errors import ErrorCode, InvalidInput


def invalid_parameter(name: str, hint: Any, **details: Any) -> InvalidInput:
    """Refuse a query parameter, with a hint of what it takes."""
    return InvalidInput(ErrorCode.INVALID_PARAMETER, param=name, hint=hint, details={"param": name, **details})


class CreatedCursorPagination(CursorPagination):
    """Stable pages while rows are added: a cursor on (created_at, id), newest first by default."""

    ordering = ("-created_at", "-public_id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise invalid_parameter(
                self.page_size_query_param,
                _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size},
                minimum=1,
                maximum=self.max_page_size,
            )
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
            return self._keyset_page(queryset, request, view)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid_cursor() from None

    def _keyset_page(self, queryset: QuerySet, request: Request, view: Any) -> list:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.cursor = self.decode_cursor(request)
        # The ordering is (field, unique tie-breaker), both the same way; a previous-page cursor
        # walks it backwards.
        backwards = bool(self.cursor and self.cursor.reverse)
        field, tie = (term.lstrip("-") for term in self.ordering)
        rising = not self.ordering[0].startswith("-")
        order = (
            [term for term in self.ordering]
            if not backwards
            else [term[1:] if term.startswith("-") else f"-{term}" for term in self.ordering]
        )
        queryset = queryset.order_by(*order)
        if self.cursor is not None and self.cursor.position is not None:
            value, key = self._split(self.cursor.position)
            op = "gt" if rising != backwards else "lt"
            queryset = queryset.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"{tie}__{op}": key}))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if backwards:
            self.page.reverse()
            self.has_next, self.has_previous = self.cursor is not None, more
        else:
            self.has_next, self.has_previous = more, self.cursor is not None
        return self.page

    @staticmethod
    def _split(position: str) -> tuple[str, str]:
        value, key = json.loads(position)
        if not isinstance(value, str) or not isinstance(key, str):
            raise ValueError("malformed position")
        return value, key

    def _get_position_from_instance(self, instance: Any, ordering: Any) -> str:
        field, tie = (term.lstrip("-") for term in ordering)
        return json.dumps([str(getattr(instance, field)), str(getattr(instance, tie))])

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        position = self._get_position_from_instance(self.page[-1], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        position = self._get_position_from_instance(self.page[0], self.ordering)
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=position))

    def _invalid_cursor(self) -> InvalidInput:
        # 404 like any page that does not exist: a cursor is opaque, so the schema cannot say
        # which strings are cursors, and no well-formed request may get a 400.
        return InvalidInput(
            ErrorCode.INVALID_CURSOR,
            details={"param": self.cursor_query_param},
            status=404,
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class EventCursorPagination(CreatedCursorPagination):
    """Webhook deliveries, newest event first (the view annotates ``event_created_at``)."""

    ordering = ("-event_created_at", "-public_id")
