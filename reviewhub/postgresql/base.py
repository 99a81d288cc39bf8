"""Django's PostgreSQL backend, with a health check that costs no round trip on a quiet connection.

Django checks a kept connection before each request or task first uses it (CONN_HEALTH_CHECKS)
with a ``SELECT 1``: a round trip before the work of every task and request. In the soak's
profile the check was 12 % of a webhook delivery task's samples, and one round trip in seven of
the worker's per application (RELIABILITY.md). A connection that the database ended while it
sat idle (a restart, ``pg_terminate_backend``) or whose network connection broke has something
on its socket: the server's error and the end of the stream, or the reset. A socket with
nothing to read is the connection as the last query left it, so the check asks the socket first
and sends the ``SELECT 1`` only when something arrived (it then reads and judges what came).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from psycopg import pq


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                return super().is_usable()
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        if readable:
            # The server's goodbye, or a notice: the round trip reads it and says which.
            return super().is_usable()
        return True
