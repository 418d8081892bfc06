"""``prpclinic verify_files``: every consent PDF and photo its record names is there and whole."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prpclinic.ops.files import ORPHAN_GRACE, verify_files


class Command(BaseCommand):
    help = (
        "Check the stored consent PDFs (size and SHA-256) and photos (size) against their records; exits 1 "
        "when one is missing or altered. Lists files that no record names (orphans) without removing them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-hashes", action="store_true", help="compare sizes only (faster; misses a same-size change)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_files(hashes=not options["no_hashes"])
        for problem in report.problems:
            detail = f": {problem.detail}" if problem.detail else ""
            self.stdout.write(f"{problem.kind.upper()} {problem.record}, file {problem.name}{detail}")
        for name in report.orphans:
            # Not removed: after a restore that lost rows, such a file is what is left of a record.
            self.stdout.write(f"ORPHAN {name} (no record names it; older than {ORPHAN_GRACE})")
        if not report.ok:
            raise CommandError(f"{len(report.problems)} of {report.checked} stored files are missing or altered")
        orphans = f"; {len(report.orphans)} orphan file(s) listed above" if report.orphans else ""
        self.stdout.write(self.style.SUCCESS(f"OK: {report.checked} stored files match their records{orphans}"))
