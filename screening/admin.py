from django.contrib import admin

from refunds.admin import ReadOnlyAdmin, ReadOnlyInline
from screening.models import Finding, ScreeningResult


class FindingInline(ReadOnlyInline):
    model = Finding
    fields = ["code", "score", "detail", "params", "regions", "artifact"]
    readonly_fields = fields


@admin.register(ScreeningResult)
class ScreeningResultAdmin(ReadOnlyAdmin):
    list_display = ["evidence", "verdict", "risk", "completed", "engine_version", "duration_ms", "created_at"]
    list_filter = ["verdict", "completed", "engine_version"]
    inlines = [FindingInline]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["result", "code", "score"]
    list_filter = ["code"]
