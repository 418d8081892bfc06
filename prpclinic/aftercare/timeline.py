"""The patient chart's one timeline: plans, screenings, consents, visits, PRP products, adverse events, aftercare.

Each app provides ``timeline_items(*, clinic_id, patient_id) -> list[dict]`` (keys ``at``, ``kind``,
``title``, ``detail``, ``url``) in its selectors; this module merges them newest first. Each
provider runs a fixed number of queries, so the chart does too, whatever the patient's history.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prpclinic.aftercare import selectors

Provider = Callable[..., list[dict[str, Any]]]

# Apps whose selectors module may provide ``timeline_items``. Asked by name so that an app still
# building its provider leaves the chart working (it simply adds nothing yet).
PROVIDER_MODULES = (
    "prpclinic.treatments.selectors",
    "prpclinic.intake.selectors",
    "prpclinic.consents.selectors",
    "prpclinic.visits.selectors",
)
CHART_LIMIT = 50
ALL_LIMIT = 500
KEYS = ("at", "kind", "title", "detail", "url")


def providers() -> list[Provider]:
    found: list[Provider] = []
    for name in PROVIDER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken import inside the module must not pass silently
                raise
            continue
        provider = getattr(module, "timeline_items", None)
        if callable(provider):
            found.append(provider)
    found += [selectors.prp_timeline_items, selectors.timeline_items]
    return found


@dataclass(frozen=True)
class Timeline:
    items: list[dict[str, Any]]
    more: bool  # items older than the last one shown exist


def _sort_key(item: dict[str, Any]) -> dt.datetime:
    return item["at"]


def patient_timeline(*, clinic_id: int, patient_id: int, limit: int = CHART_LIMIT) -> Timeline:
    """The patient's timeline, newest first, at most ``limit`` items."""
    items: list[dict[str, Any]] = []
    for provider in providers():
        for item in provider(clinic_id=clinic_id, patient_id=patient_id):
            if isinstance(item.get("at"), dt.datetime):  # an item without a time cannot be placed
                items.append({key: item.get(key, "") for key in KEYS})
    items.sort(key=_sort_key, reverse=True)
    return Timeline(items=items[:limit], more=len(items) > limit)
