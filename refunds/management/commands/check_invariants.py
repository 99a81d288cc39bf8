"""Audit the database against the workflow's invariants; exit 1 if any is violated."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from refunds.invariants import audit_database


class Command(BaseCommand):
    help = "Count violations of the workflow's invariants across the whole database (exit 1 if any)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--skip-chains", action="store_true", help="do not recompute every audit chain")

    def handle(self, *args: Any, skip_chains: bool = False, **options: Any) -> None:
        report = audit_database(verify_chains=not skip_chains)
        for line in report.lines():
            self.stdout.write(line)
        for name, examples in report.examples.items():
            if examples:
                self.stdout.write(f"  e.g. {name}: {', '.join(examples)}")
        if report.violations:
            raise CommandError(f"{report.violations} violation(s)", returncode=1)
