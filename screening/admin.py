from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from refunds.admin import ReadOnlyAdmin, ReadOnlyInline
from screening import messages
from screening.models import Finding, ScreeningResult


class FindingCodeFilter(admin.SimpleListFilter):
    """Findings by kind, named in the reader's language (the stored code is for machines)."""

    title = _("finding")
    parameter_name = "code"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        codes = Finding.objects.order_by().values_list("code", flat=True).distinct()
        return sorted(((code, messages.label(code)) for code in codes), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        return queryset.filter(code=self.value()) if self.value() else queryset


class FindingInline(ReadOnlyInline):
    model = Finding
    fields = ["kind", "score", "explanation", "regions", "artifact"]
    readonly_fields = fields

    @admin.display(description=_("finding"))
    def kind(self, obj: Finding) -> str:
        return obj.label

    @admin.display(description=_("explanation"))
    def explanation(self, obj: Finding) -> str:
        return obj.explanation


@admin.register(ScreeningResult)
class ScreeningResultAdmin(ReadOnlyAdmin):
    list_display = ["evidence", "verdict", "risk", "completed", "engine_version", "duration_ms", "created_at"]
    list_filter = ["verdict", "completed", "engine_version"]
    inlines = [FindingInline]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["result", "kind", "score"]
    list_filter = [FindingCodeFilter]
    fields = ["result", "kind", "score", "explanation", "regions", "artifact"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.fields

    @admin.display(description=_("finding"), ordering="code")
    def kind(self, obj: Finding) -> str:
        return obj.label

    @admin.display(description=_("explanation"))
    def explanation(self, obj: Finding) -> str:
        return obj.explanation
