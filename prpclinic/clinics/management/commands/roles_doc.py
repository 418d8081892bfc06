"""``prpclinic roles_doc``: write docs/roles.md from the role table in clinics/roles.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from prpclinic.clinics.roles import render_markdown


class Command(BaseCommand):
    help = "Render the role and permission table into docs/roles.md."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.BASE_DIR / "docs" / "roles.md"
        path.write_text(render_markdown())
        self.stdout.write(f"wrote {path}")
