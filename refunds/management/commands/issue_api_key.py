"""Issue an API key for a platform and print it once."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refunds.errors import DomainError
from refunds.models import ApiKey, Platform
from refunds.services.platform import api_key_issue


class Command(BaseCommand):
    help = "Issue an API key for a platform (by slug); the key is printed once and stored hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("platform", help="the platform's slug")
        parser.add_argument("--scopes", nargs="+", default=["read", "write"], choices=ApiKey.Scope.values)
        parser.add_argument("--name", default="cli")

    def handle(self, *args: object, platform: str, scopes: list[str], name: str, **options: object) -> None:
        target = Platform.objects.filter(slug=platform).first()
        if target is None:
            raise CommandError(f"No platform with slug {platform!r}.", returncode=2)
        try:
            _, text = api_key_issue(platform=target, name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(str(exc.message), returncode=2) from None
        self.stdout.write(text)
