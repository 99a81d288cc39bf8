"""``manage.py health``: the readiness checks of ``/readyz`` as a table, for operators and scripts.

Exit status 0 when every check passes, 1 when any fails, 2 for bad arguments (argparse's own).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from reviewhub.health import CHECKS, run_checks


class Command(BaseCommand):
    help = "Check the database, broker, media storage, worker and beat heartbeats; exit 1 if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="append", choices=list(CHECKS), dest="checks", help="run only this check (repeatable)"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the answer of /readyz instead of a table"
        )

    def handle(self, *args: object, checks: list[str] | None, as_json: bool, **options: object) -> None:
        results = run_checks(checks)
        failing = [r.name for r in results if not r.ok]
        if as_json:
            self.stdout.write(_dump(results, failing))
        else:
            width = max(len(r.name) for r in results)
            for r in results:
                status = self.style.SUCCESS(_("ok").ljust(7)) if r.ok else self.style.ERROR(_("failing").ljust(7))
                line = f"{r.name.ljust(width)}  {status}  {r.reason}"
                self.stdout.write(line + (f" - {r.detail}" if r.detail else ""))
        if failing:
            raise SystemExit(1)


def _dump(results: list, failing: list[str]) -> str:
    return json.dumps(
        {
            "status": "failing" if failing else "ok",
            "failing": failing,
            "checks": {
                r.name: {"status": "ok" if r.ok else "failing", "reason": r.reason, "detail": r.detail} for r in results
            },
        },
        ensure_ascii=False,
    )
