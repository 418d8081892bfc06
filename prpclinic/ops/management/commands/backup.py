"""``prpclinic backup``: an encrypted backup of the database and the stored files; prints its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from prpclinic.ops.backup import BackupError, create_backup, load_key


def default_backup_dir() -> Path:
    return Path(getattr(settings, "VAR_DIR", Path("var"))) / "backups"


class Command(BaseCommand):
    help = (
        "Write an encrypted backup (database dump, stored files, authenticated manifest) into a new directory "
        "named by the UTC time under --to, and print its path. Needs BACKUP_KEY or BACKUP_KEY_FILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", type=Path, default=None, help="directory that receives the backup (default: var/backups)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = load_key()  # first: no key, no work
            path = create_backup(dest_root=Path(options["to"] or default_backup_dir()).absolute(), key=key)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(path))
