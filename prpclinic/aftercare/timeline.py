"""The patient chart's one timeline: plans, screenings, consents, visits, PRP products, adverse events, aftercare.

Each app provides ``timeline_items(*, clinic_id, patient_id) -> list[dict]`` (keys ``at``, ``kind``,
``title``, ``detail``, ``url``) in its selectors; this module merges them newest first. Each
provider runs a fixed number of queries, so the chart does too, whatever the patient's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prpclinic.aftercare import selectors
from prpclinic.consents import selectors as consents_selectors
from prpclinic.intake import selectors as intake_selectors
from prpclinic.outcomes import selectors as outcomes_selectors
from prpclinic.scheduling import selectors as scheduling_selectors
from prpclinic.treatments import selectors as treatments_selectors
from prpclinic.visits import selectors as visits_selectors

Provider = Callable[..., list[dict[str, Any]]]

# The other apps' providers; each bounds its own items. This app's take the page's limit.
PROVIDERS: tuple[Provider, ...] = (
    treatments_selectors.timeline_items,
    intake_selectors.timeline_items,
    consents_selectors.timeline_items,
    visits_selectors.timeline_items,
    outcomes_selectors.timeline_items,
    scheduling_selectors.timeline_items,
)
CHART_LIMIT = 50
ALL_LIMIT = 500
KEYS = ("at", "kind", "title", "detail", "url")


@dataclass(frozen=True)
class Timeline:
    items: list[dict[str, Any]]
    more: bool  # items older than the last one shown exist


def _sort_key(item: dict[str, Any]) -> dt.datetime:
    return item["at"]


def patient_timeline(*, clinic_id: int, patient_id: int, limit: int = CHART_LIMIT) -> Timeline:
    """The patient's timeline, newest first, at most ``limit`` items."""
    items: list[dict[str, Any]] = []
    found = [provider(clinic_id=clinic_id, patient_id=patient_id) for provider in PROVIDERS]
    found.append(selectors.prp_timeline_items(clinic_id=clinic_id, patient_id=patient_id, limit=limit))
    found.append(selectors.timeline_items(clinic_id=clinic_id, patient_id=patient_id, limit=limit))
    for provided in found:
        for item in provided:
            if isinstance(item.get("at"), dt.datetime):  # an item without a time cannot be placed
                items.append({key: item.get(key, "") for key in KEYS})
    items.sort(key=_sort_key, reverse=True)
    return Timeline(items=items[:limit], more=len(items) > limit)
