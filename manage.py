#!/usr/bin/env python
"""Django's command-line utility; `prpclinic` (prpclinic/cli.py) does the same and more."""

import sys

from prpclinic.cli import main

if __name__ == "__main__":
    sys.exit(main())
