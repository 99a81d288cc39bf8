"""Querysets whose SQL Django compiles once per thread, then runs with new values.

Django compiles a queryset into SQL at every execution: it resolves each selected column,
join and deferred field again. For the few fixed queries every API request makes (the key's
lookup, the application of a detail read and its related rows) that compilation was most of
their cost: 0.4 ms of the 0.9 ms the application's query took in-process on SQLite, where
SQLite itself runs in the process. A ``CompiledQuery`` keeps the SQL and what turns its rows
into model instances (the same steps as Django's ``ModelIterable``: ``from_db`` and the
``select_related`` populators, annotations), and only binds the values of its ``Slot`` parameters anew.

On PostgreSQL the server compiles a statement too: it plans it at every execution, and the
application's statement of a detail read (five joins and an EXISTS) took 0.4 to 0.8 ms to
plan and 0.04 ms to run (EXPLAIN ANALYZE, the benchmark's database), the largest single cost
of the read on the database's side. A compiled query is therefore also a prepared statement
there, planned once per connection (``DB_PREPARED_STATEMENTS``, reviewhub/settings.py); every
other query keeps Django's client-side binding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.query import get_related_populators


class Slot(Expression):
    """A parameter of a compiled query, bound to a value at each run as ``field`` prepares it."""

    def __init__(self, name: str, field: Field) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [self]


class CompiledQuery:
    """Run the queryset ``build`` returns (a model queryset, with ``Slot`` parameters) as
    Django would, compiling its SQL only the first time in each thread."""

    def __init__(self, build: Callable[[], QuerySet[Any]]) -> None:
        self._build = build
        # Per thread, as Django's connections are: a compiler holds the connection it compiled for.
        self._local = threading.local()

    def run(self, **values: Any) -> list[Any]:
        """Return the model instances of the rows the query finds with these parameter values;
        raise ValidationError, ValueError or TypeError, as a filter would, for a value its field refuses."""
        compiled = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._local.compiled = _Compiled(self._build())
        return compiled.run(values)

    def first(self, **values: Any) -> Any:
        """Return the first instance ``run`` finds, or None; raise as ``run`` does."""
        found = self.run(**values)
        return found[0] if found else None


class _Compiled:
    def __init__(self, queryset: QuerySet[Any]) -> None:
        self.alias = queryset.db
        self.compiler = queryset.query.get_compiler(using=self.alias)
        self.sql, self.params = self.compiler.as_sql()
        select, klass_info = self.compiler.select, self.compiler.klass_info
        self.model: type[Model] = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, self.alias)
        self.annotations = list(self.compiler.annotation_col_map.items())
        # What results_iter would find again at each run: 0.06 ms of a detail read's three queries.
        self.columns = [column[0] for column in select[0 : self.compiler.col_count]]
        self.converters = self.compiler.get_converters(self.columns)
        self.composite = self.compiler.has_composite_fields(self.columns)

    def run(self, values: dict[str, Any]) -> list[Any]:
        connection = connections[self.alias]
        params = [
            p.output_field.get_db_prep_value(values[p.name], connection) if isinstance(p, Slot) else p
            for p in self.params
        ]
        with _cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        objects = []
        # The steps of results_iter, with the converters found once.
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.composite:
            rows = self.compiler.composite_fields_to_tuples(rows, self.columns)
        for row in rows:
            obj = self.model.from_db(self.alias, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """Return a cursor of the connection, one that prepares its statements where the connection
    allows prepared statements (psycopg's ``prepare_threshold`` set: PostgreSQL with
    DB_PREPARED_STATEMENTS): Django's own cursor class with server-side binding, wrapped as
    every cursor is, so that execute wrappers see its statements. Where queries are logged
    (DEBUG, ``CaptureQueriesContext``), Django's ordinary cursor instead: the log shows a
    statement as its client-side binding writes it, which a prepared one does not record."""
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))
