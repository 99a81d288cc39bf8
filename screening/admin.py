from django.contrib import admin

from screening.models import Finding, ScreeningResult


class FindingInline(admin.TabularInline):
    model = Finding
    extra = 0
    can_delete = False
    readonly_fields = ["code", "score", "detail", "params", "regions", "artifact"]

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ScreeningResult)
class ScreeningResultAdmin(admin.ModelAdmin):
    list_display = ["evidence", "verdict", "risk", "completed", "engine_version", "duration_ms", "created_at"]
    list_filter = ["verdict", "completed", "engine_version"]
    readonly_fields = ["evidence", "completed", "verdict", "risk", "matched_reference", "engine_version", "duration_ms", "created_at"]
    inlines = [FindingInline]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ["result", "code", "score"]
    list_filter = ["code"]
    readonly_fields = ["result", "code", "score", "detail", "params", "regions", "artifact"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
