"""Rebuild the reuse index from the stored evidence files (after a change of its scheme)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from refunds.models import Platform
from screening import core
from screening.index import SCHEME, groups_prune, rebuild_evidence, rebuild_pending, rebuild_restart


class Command(BaseCommand):
    @property
    def help(self) -> str:  # type: ignore[override]
        # Read when the parser is made, in the active language (argparse cannot take a lazy string).
        return _(
            "Hash every stored evidence image not yet in the reuse index with its current scheme "
            "(resumable: run it again to go on), then drop groups no image holds any more."
        )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--restart", action="store_true", help=_("redo every image, also those already current"))
        parser.add_argument("--batch-size", type=int, default=200, help=_("images per transaction (default 200)"))
        parser.add_argument("--platform", help=_("only this platform's evidence (its slug)"))

    def handle(
        self, *args: Any, restart: bool = False, batch_size: int = 200, platform: str | None = None, **options: Any
    ) -> None:
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."), returncode=2)
        scope = None
        if platform is not None:
            scope = Platform.objects.filter(slug=platform).first()
            if scope is None:
                raise CommandError(_("No platform with the slug %(slug)s.") % {"slug": platform}, returncode=2)
        if restart:
            rebuild_restart(platform=scope)
        pending = rebuild_pending(platform=scope)
        total = pending.count()
        done = unreadable = 0
        last_pk = 0
        started = time.monotonic()
        while True:
            # Keyset pages in id order: each batch is committed, so a run stopped half-way loses
            # at most one batch and the next run starts after what was stored.
            batch = list(pending.filter(pk__gt=last_pk)[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                for evidence in batch:
                    try:
                        with evidence.file.open("rb") as handle:
                            data = handle.read()
                        rebuild_evidence(
                            evidence=evidence,
                            data=data,
                            max_pixels=settings.UPLOAD_MAX_PIXELS,
                            max_bytes=settings.UPLOAD_MAX_BYTES,
                        )
                    except (core.UnreadableImage, OSError):
                        unreadable += 1
            last_pk = batch[-1].pk
            done += len(batch)
            self._progress(done, total, started)
        pruned = groups_prune(platform=scope)
        if total:
            sys.stderr.write("\n")
        self.stdout.write(
            _(
                "Reuse index (scheme %(scheme)s): %(done)s images hashed, %(unreadable)s unreadable "
                "skipped, %(pruned)s empty groups removed."
            )
            % {"scheme": SCHEME, "done": done - unreadable, "unreadable": unreadable, "pruned": pruned}
        )

    def _progress(self, done: int, total: int, started: float) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:.0f}/s)")
        sys.stderr.flush()
