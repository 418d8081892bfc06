"""The ``prpclinic`` command: Django's management commands, with the settings pre-selected.

prpclinic migrate | demo | verify_audit | roles_doc | runserver ... (any Django command)
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prpclinic.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["prpclinic", *(argv if argv is not None else sys.argv[1:])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
