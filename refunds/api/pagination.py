from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """Stable pages while rows are added: a cursor on (created_at, id), newest first by default."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
