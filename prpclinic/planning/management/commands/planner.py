"""``prpclinic planner``: one prediction of the PRP planner from the command line.

A thin wrapper over ``prpclinic.planner.cli`` (pure Python, tested without Django): the options,
their validation, the prediction and the output are all there. See docs/planner.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prpclinic.planner import cli


class Command(BaseCommand):
    help = cli.DESCRIPTION
    requires_system_checks: list[str] = []  # a computation: no database, no settings to check
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = cli.run_options(options)
        except cli.PlannerInputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(cli.render(result, as_json=bool(options["json"])))
