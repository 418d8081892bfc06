"""Local concepts of the clinical FHIR resources, merged by ``codesystems.py`` into the one prpclinic CodeSystem.

Each concept is a dict in the shape of ``CodeSystem.concept`` (``code``, ``display``, ``definition``). Codes here are
used only where STANDARDS.md gives no LOINC or SNOMED CT code: we never invent external codes. Zone, view and scale
codes come from the data modules that define them (treatments catalogue, outcomes photo views and scales), so a
new scale or zone gets its concept without a second list to keep in step.
"""

from __future__ import annotations

from typing import Final

from prpclinic.outcomes.models import PhotoView
from prpclinic.outcomes.scales import SCALES
from prpclinic.treatments.catalogue import FACE_ZONE_LABELS, SCALP_ZONE_LABELS
from prpclinic.visits.models import TreatmentKind

SYSTEM: Final = "https://prpclinic.org/fhir/CodeSystem/prpclinic"
SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
EXTENSION_BASE: Final = "https://prpclinic.org/fhir/StructureDefinition/"
PRP_PRODUCT_EXTENSION: Final = EXTENSION_BASE + "prp-product"
CONSUMABLE_LOT_EXTENSION: Final = EXTENSION_BASE + "consumable-lot"
VOLUME_EXTENSION: Final = EXTENSION_BASE + "volume"
# On a PRP's processing step: the spin's own Procedure (R4's processing.procedure is only a CodeableConcept).
PROCESSING_PROCEDURE_EXTENSION: Final = EXTENSION_BASE + "processing-procedure"
# On a spin's Procedure: the run's settings as quantities (UCUM [g], /min, min, Cel).
SPIN_RCF_EXTENSION: Final = EXTENSION_BASE + "spin-rcf"
SPIN_RPM_EXTENSION: Final = EXTENSION_BASE + "spin-rpm"
SPIN_DURATION_EXTENSION: Final = EXTENSION_BASE + "spin-duration"
SPIN_TEMPERATURE_EXTENSION: Final = EXTENSION_BASE + "spin-temperature"

# The only external codes these resources use, each as STANDARDS.md (FHIR section) lists it. The Specimen codes are
# marked unverified there; docs/fhir-clinical.md says so.
SNOMED_VENOUS_BLOOD: Final = ("122555007", "Venous blood")  # STANDARDS.md: unverified
SNOMED_VENIPUNCTURE: Final = ("28520004", "Venipuncture")  # STANDARDS.md: unverified
SNOMED_SCALP: Final = ("41695006", "Scalp")
LOINC_PLATELETS_BLOOD: Final = ("777-3", "Platelets [#/volume] in Blood")
UNIT_K_PER_UL: Final = "10*3/uL"
UNIT_M_PER_UL: Final = "10*6/uL"

# Procedure codes for the three treatments and centrifugation (no SNOMED code given in STANDARDS.md).
PROCEDURE_CODES: Final[dict[str, tuple[str, str]]] = {
    TreatmentKind.MICRONEEDLING_PRP: ("microneedling-prp", "Micro-needling with autologous PRP"),
    TreatmentKind.PRP_SCALP: ("prp-scalp-injection", "Autologous PRP injections into the scalp"),
    TreatmentKind.MESOTHERAPY: ("mesotherapy", "Mesotherapy (intradermal injections)"),
}
CENTRIFUGATION: Final = ("centrifugation", "Centrifugation of anticoagulated whole blood")

# Laboratory values without a code in STANDARDS.md.
LAB_CODES: Final[dict[str, tuple[str, str]]] = {
    "hematocrit": ("hematocrit-blood", "Hematocrit of the whole blood drawn"),
    "wbc_blood": ("wbc-blood", "White blood cells in the whole blood drawn"),
    "prp_platelets": ("prp-platelets", "Platelets in the platelet-rich plasma"),
    "prp_wbc": ("prp-wbc", "White blood cells in the platelet-rich plasma"),
    "prp_rbc": ("prp-rbc", "Red blood cells in the platelet-rich plasma"),
}

PRODUCT_CODES: Final[dict[str, tuple[str, str]]] = {
    "whole_blood": ("whole-blood", "Autologous whole blood, anticoagulated"),
    "prp": ("prp", "Autologous platelet-rich plasma"),
}
CENTRIFUGE: Final = ("centrifuge", "Centrifuge for PRP preparation")
AREA_FACE: Final = ("area-face", "Face")
TARGET_AREA: Final = ("target-area", "Size of the marked target area")


def zone_code(zone: str) -> str:
    return f"zone-{zone}"


def view_code(view: str) -> str:
    return f"view-{view}"


def scale_code(scale: str) -> str:
    return f"scale-{scale}"


def _concept(code: str, display: str, definition: str = "") -> dict[str, str]:
    return {"code": code, "display": display, "definition": definition or display}


def _concepts() -> list[dict[str, str]]:
    concepts = [_concept(code, display) for code, display in PROCEDURE_CODES.values()]
    concepts.append(_concept(*CENTRIFUGATION))
    concepts += [_concept(code, display) for code, display in LAB_CODES.values()]
    concepts += [_concept(code, display) for code, display in PRODUCT_CODES.values()]
    concepts += [_concept(*CENTRIFUGE), _concept(*AREA_FACE), _concept(*TARGET_AREA)]
    for zone, label in [*FACE_ZONE_LABELS, *SCALP_ZONE_LABELS]:
        concepts.append(_concept(zone_code(zone), label, f"Treatment zone of the charting body map: {label}"))
    for view in PhotoView:
        concepts.append(_concept(view_code(view.value), str(view.label), f"Standard photo view: {view.label}"))
    for scale in SCALES.values():
        definition = f"{scale.definition} Source: {scale.source} [{scale.tag}]"
        concepts.append(_concept(scale_code(scale.code), scale.name, definition))
    return concepts


# The list codesystems.py merges into the served CodeSystem.
CONCEPTS: Final[list[dict[str, str]]] = _concepts()
CODES: Final[frozenset[str]] = frozenset(concept["code"] for concept in CONCEPTS)
