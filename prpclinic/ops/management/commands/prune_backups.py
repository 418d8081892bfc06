"""``prpclinic prune_backups``: keep daily, weekly and monthly backups; delete the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prpclinic.ops.backup import prune_backups
from prpclinic.ops.management.commands.backup import default_backup_dir


class Command(BaseCommand):
    help = (
        "Delete old backups under --to, keeping the newest backup of each of the last --daily days, --weekly ISO "
        "weeks and --monthly months that have one (and always the newest backup)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", type=Path, default=None, help="backup directory (default: var/backups)")
        parser.add_argument("--daily", type=int, default=14, help="days to keep one backup of (default 14)")
        parser.add_argument("--weekly", type=int, default=8, help="weeks to keep one backup of (default 8)")
        parser.add_argument("--monthly", type=int, default=12, help="months to keep one backup of (default 12)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(options["to"] or default_backup_dir()).absolute()
        kept, deleted = prune_backups(
            root,
            daily=options["daily"],
            weekly=options["weekly"],
            monthly=options["monthly"],
            dry_run=options["dry_run"],
        )
        verb = "would delete" if options["dry_run"] else "deleted"
        for name in deleted:
            self.stdout.write(f"{verb} {root / name}")
        self.stdout.write(f"kept {len(kept)} backup(s), {verb} {len(deleted)}")
