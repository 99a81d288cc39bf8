from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _register_sqlite_functions(sender: object, connection: object, **kwargs: object) -> None:
    # PostgreSQL counts a hash's differing bits with bit_count(); SQLite has no such function,
    # so the reuse index brings its own (screening.index.HammingDistance).
    if getattr(connection, "vendor", None) == "sqlite":
        from screening.index import popcount

        connection.connection.create_function("reuse_bit_count", 1, popcount, deterministic=True)


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = _("Screening")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_register_sqlite_functions, dispatch_uid="screening_sqlite_functions")
