"""FHIR resource builders, one module per area; each registers its types in ``prpclinic.fhir.registry``.

``registry.get()``/``all_types()`` import this package on first use, which imports every builder module.
"""

import importlib

from prpclinic.fhir.resources import admin  # noqa: F401

# fhir-clinical's module may land after this one: register it when present, without hiding errors inside it.
try:
    importlib.import_module("prpclinic.fhir.resources.clinical")
except ModuleNotFoundError as exc:  # pragma: no cover - only until resources/clinical.py exists
    if exc.name != "prpclinic.fhir.resources.clinical":
        raise
