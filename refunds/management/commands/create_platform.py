"""Onboard a platform: create it with its policy, and optionally its first API key."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refunds.errors import DomainError
from refunds.models import ApiKey
from refunds.services import platform as platform_services


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
            "--scopes",
            nargs="+",
            default=["read", "write"],
            choices=ApiKey.Scope.values,
            help="scopes of the key (default: read write)",
        )

    def handle(
        self, *args: object, slug: str, name: str | None, key: bool, scopes: list[str], **options: object
    ) -> None:
        policy = {
            field: options[field]
            for field in ("merchant_window", "claim_timeout", "expiry_auto_approves")
            if options.get(field) is not None
        }
        actor = platform_services.settings_actor_for_command("create_platform")
        try:
            platform = platform_services.platform_create(name=name or slug, slug=slug, policy=policy, actor=actor)
            self.stderr.write(f"Created platform {platform.slug} ({platform.public_id}) with its policy.")
            if key:
                _, text = platform_services.api_key_issue(
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
