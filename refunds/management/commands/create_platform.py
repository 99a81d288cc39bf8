"""Onboard a platform: create it with its policy, and optionally its first API key."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from refunds.errors import DomainError
from refunds.models import ApiKey
from refunds.services import platform as platform_services

# Like the API, the command speaks English unless asked otherwise: what it prints must not
# change with the site's LANGUAGE_CODE (the language the portal and admin default to).
DEFAULT_LANGUAGE = "en"


def _hours(value: str) -> timedelta:
    return timedelta(hours=float(value))


class Command(BaseCommand):
    help = (
        "Create a platform with its policy (conservative defaults unless changed here); with --key, also issue an "
        "API key, printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the platform's slug, e.g. acme-mall")
        parser.add_argument("--name", help="display name (default: the slug)")
        parser.add_argument(
            "--merchant-window-hours",
            type=_hours,
            dest="merchant_window",
            help="merchant response window in hours (default 48)",
        )
        parser.add_argument(
            "--claim-timeout-hours",
            type=_hours,
            dest="claim_timeout",
            help="reviewer claim timeout in hours (default 0.5)",
        )
        parser.add_argument(
            "--no-expiry-auto-approve",
            action="store_false",
            dest="expiry_auto_approves",
            default=None,
            help="never approve automatically when the merchant window closes",
        )
        parser.add_argument("--key", action="store_true", help="also issue an API key and print it (once)")
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=DEFAULT_LANGUAGE,
            help=f"the language of its messages and refusals (default {DEFAULT_LANGUAGE})",
        )
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=["read", "write"],
            choices=ApiKey.Scope.values,
            help="scopes of the key (default: read write)",
        )

    def handle(self, *args: object, language: str, **options: object) -> None:
        with translation.override(language):
            self._create(**options)  # type: ignore[arg-type]

    def _create(self, *, slug: str, name: str | None, key: bool, scopes: list[str], **options: object) -> None:
        policy = {
            field: options[field]
            for field in ("merchant_window", "claim_timeout", "expiry_auto_approves")
            if options.get(field) is not None
        }
        actor = platform_services.settings_actor_for_command("create_platform")
        try:
            platform = platform_services.platform_create(name=name or slug, slug=slug, policy=policy, actor=actor)
            self.stderr.write(
                _("Created platform %(slug)s (%(id)s) with its policy.")
                % {"slug": platform.slug, "id": platform.public_id}
            )
            if key:
                _issued, text = platform_services.api_key_issue(
                    platform=platform, name="create_platform", scopes=scopes, actor=actor
                )
                self.stdout.write(text)
        except DomainError as exc:
            named = exc.details.get("errors") or {k: v for k, v in exc.details.items() if k != "param"}
            details = "; ".join(
                f"{field}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
                for field, messages in named.items()
            )
            raise CommandError(f"{exc.message} {details}".strip(), returncode=2) from None
