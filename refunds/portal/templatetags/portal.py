"""Template filters of the portal."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> int:
    """Return a duration in whole minutes, rounded up (a lockout of 90 s is "2 minutes")."""
    if value is None:
        return 0
    return -(-int(value.total_seconds()) // 60)
