"""``prpclinic restore``: restore a backup into an empty database and an empty media root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prpclinic.ops.backup import BackupError, load_key, restore_backup, verify_backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `prpclinic backup` into an EMPTY database (--database-url) and an EMPTY media "
        "root (--media-root), after checking the manifest and every checksum; then verify the audit trail. "
        "With --verify-only, check the whole backup (every chunk decrypted and authenticated) and write nothing."
    )
    # No system checks: a restore may run where the configured database is down.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup_dir", type=Path, help="the backup's directory (prpclinic-YYYYmmddTHHMMSSZ)")
        parser.add_argument("--database-url", help="target database, empty: postgres://… or sqlite:////path")
        parser.add_argument("--media-root", type=Path, help="target directory for the stored files, empty or absent")
        parser.add_argument(
            "--verify-only", action="store_true", help="check the backup end to end without restoring anything"
        )
        parser.add_argument(
            "--no-privileges",
            action="store_true",
            help="PostgreSQL: do not restore GRANTs (when the source's roles do not exist on the target)",
        )
        parser.add_argument(
            "--skip-audit-verify", action="store_true", help="do not run verify_audit against the restored database"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backup_dir = Path(options["backup_dir"])
        try:
            key = load_key()
            if options["verify_only"]:
                checked = verify_backup(backup_dir, key)
                self.stdout.write(
                    f"OK: {checked.name} ({checked.vendor}, made {checked.created_at}): database "
                    f"{checked.database_bytes} bytes, {checked.media_files} stored files "
                    f"({checked.media_bytes} bytes); every checksum and chunk verified"
                )
                return
            if not options["database_url"] or not options["media_root"]:
                raise CommandError("--database-url and --media-root are required (or --verify-only)")
            report = restore_backup(
                backup_dir,
                database_url=options["database_url"],
                media_root=Path(options["media_root"]),
                key=key,
                privileges=not options["no_privileges"],
                verify_audit=not options["skip_audit_verify"],
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {report.vendor} database ({report.tables} tables) and {report.media_files} stored files "
            f"({report.media_bytes} bytes) into {options['media_root']}"
        )
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        if report.audit_ok is None:
            self.stdout.write("audit trail: not verified (--skip-audit-verify)")
            return
        self.stdout.write(report.audit_output)
        if not report.audit_ok:
            raise CommandError("the audit trail of the restored database does NOT verify (see above)")
        self.stdout.write(self.style.SUCCESS("restore complete; audit trail verified"))
