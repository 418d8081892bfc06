"""Writes to the catalogue and to treatment plans. Each runs in one transaction and is audited."""

from __future__ import annotations

from prpclinic.treatments.seeding import seed_catalogue

__all__ = ["seed_catalogue"]
