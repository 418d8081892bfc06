"""FHIR resources of the PRP chain and the clinical record (issue #8, clinical half).

Mappings (docs/fhir-clinical.md has the full table). A type may have several sources (``registry.sources``): the
primary keeps numeric ids, each further source's ids are ``<prefix>-<pk>``.
- Specimen: ``prp.BloodDraw``.
- BiologicallyDerivedProduct: ``prp.Product`` (the PRP), whose ``parent`` is ``BiologicallyDerivedProduct/wb-<draw>``
  and whose ``processing`` steps point at the spins' Procedures; source ``wb``: the whole blood of a ``BloodDraw``.
- Procedure: ``visits.Visit`` with its current ``ZoneEntry`` rows; the PRP given is linked by the
  ``prp-product`` extension (R4 has no Procedure -> BiologicallyDerivedProduct reference). Source ``spin``: a
  ``prp.Spin`` as a centrifugation Procedure (the centrifuge in ``usedReference``, part of the visit's Procedure).
- Observation: ``outcomes.Score`` (current scores), one local concept per scale. Sources ``plt``/``hct``/``wbc``:
  the whole-blood values of a ``BloodDraw`` (platelets LOINC 777-3) with ``specimen`` the draw; ``prp-plt``/
  ``prp-wbc``/``prp-rbc``: the PRP counts of a ``Product`` with ``focus`` the product. One source per value column,
  each serving only the rows where that value was measured.
- Media: ``outcomes.Photo`` (active photos); ``content.url`` is ``<base>/Binary/photo-<pk>``.
- Device: ``prp.Centrifuge``. MedicationAdministration: mesotherapy ``ZoneEntry`` rows with a cocktail.

The further sources (whole blood, spins, lab values) are built and registered in ``clinical_chain.py``, imported at
the end of this module. Every resource has its own id, so nothing of the chain is contained any more (one id per
fact: a client that reads the PRP's parent gets the same resource as one that searches whole blood by patient).

The autologous rule: the product's ``collection.source`` is the patient the procedure was done on. The builders raise
:class:`AutologousRuleViolation` rather than serve a record that breaks it.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from fhir.resources.R4B.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.specimen import Specimen

from prpclinic.fhir.registry import (
    BuildContext,
    Include,
    ResourceDef,
    SearchError,
    SearchParam,
    display_reference,
    reference,
    register,
)
from prpclinic.fhir.resources import clinical_codes as codes
from prpclinic.outcomes.models import Photo, PhotoArea, PhotoStatus, Score, ScoreStatus
from prpclinic.outcomes.scales import NUMERIC, SCALES
from prpclinic.prp.models import PRODUCT_PREFIX, Application, BloodDraw, Centrifuge, Product, ProductStatus
from prpclinic.visits.models import BodyMap, Visit, VisitStatus, ZoneEntry

PRODUCT_SYSTEM = "urn:prpclinic:product"
LOT_SYSTEM = "urn:prpclinic:lot"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
# Id prefixes of the further sources (ids ``wb-12``, ``spin-7``); the lab values' prefixes are in LAB_VALUES.
WHOLE_BLOOD_PREFIX = "wb"
SPIN_PREFIX = "spin"
_BDP = "BiologicallyDerivedProduct"


class AutologousRuleViolation(ValueError):
    """A product would be served as given to (or collected from) someone other than its donor."""


# --- small helpers --------------------------------------------------------------------------------------------------


def _local(code: str, display: str) -> dict[str, str]:
    return {"system": codes.SYSTEM, "code": code, "display": display}


def _coding(system: str, pair: tuple[str, str]) -> dict[str, str]:
    return {"system": system, "code": pair[0], "display": pair[1]}


def _concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": list(codings)}
    if text:
        concept["text"] = text
    return concept


def _ucum(value: Decimal | int, unit: str, code: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": code or unit}


def _person(user: Any) -> dict[str, str] | None:
    # Staff are not served as Practitioner resources: a display-only reference carries the name.
    if user is None:
        return None
    return display_reference(user.full_name or "Staff member")


def _product_identifier(product: Product) -> dict[str, str]:
    return {"system": PRODUCT_SYSTEM, "value": product.barcode}


def _lot_extension(kind: str, lot: Any) -> dict[str, Any]:
    return {
        "url": codes.CONSUMABLE_LOT_EXTENSION,
        "valueIdentifier": {"system": f"{LOT_SYSTEM}:{kind}", "value": lot.lot_number},
    }


def _volume_extension(volume_ml: Decimal) -> dict[str, Any]:
    return {"url": codes.VOLUME_EXTENSION, "valueQuantity": _ucum(volume_ml, "mL")}


def _product_code_filter(queryset: QuerySet, value: str, ctx: BuildContext, path: str = "code") -> QuerySet:
    """``identifier=[urn:prpclinic:product|]PRP-XXXX`` (commas: any of them): the code without its printed prefix."""
    wanted: list[str] = []
    for part in value.split(","):
        system, _, code = part.strip().rpartition("|")
        if system and system != PRODUCT_SYSTEM:
            continue
        code = code.strip().upper()
        if code.startswith(PRODUCT_PREFIX):
            code = code[len(PRODUCT_PREFIX) :]
        if not code:
            raise SearchError("identifier needs a product code")
        wanted.append(code)
    return queryset.filter(**{f"{path}__in": wanted})


def _try_product(draw: BloodDraw) -> Product | None:
    try:
        return draw.product
    except Product.DoesNotExist:
        return None


def _prefixed(prefix: str, pk: int) -> str:
    return f"{prefix}-{pk}"


def _checked_draw_product(draw: BloodDraw) -> Product | None:
    """The draw's product (if made yet), refusing one that names another patient than the draw (autologous)."""
    product = _try_product(draw)
    if product is not None and product.patient_id != draw.patient_id:
        raise AutologousRuleViolation(f"draw {draw.pk} and its product {product.pk} name different patients")
    return product


def check_autologous(*, product: Product, patient_id: int) -> None:
    """The product's donor (its draw's patient and its own patient) must be ``patient_id``."""
    donors = {product.patient_id, product.draw.patient_id}
    if donors != {patient_id}:
        raise AutologousRuleViolation(
            f"product {product.pk} was collected from patient {sorted(donors)} but is linked to patient {patient_id}"
        )


# --- Specimen: the blood draw ---------------------------------------------------------------------------------------


def build_specimen(draw: BloodDraw, ctx: BuildContext) -> Specimen:
    product = _checked_draw_product(draw)
    used_up = product is not None and product.status in (ProductStatus.APPLIED, ProductStatus.DISCARDED)
    container: dict[str, Any] = {
        "description": draw.tube_lot.product_name,
        "capacity": _ucum(draw.tube_lot.tube_capacity_ml, "mL"),
        "additiveCodeableConcept": {"text": draw.get_anticoagulant_display()},
        "extension": [_lot_extension("tube", draw.tube_lot)],
    }
    extensions = [_lot_extension("kit", draw.kit_lot)] if draw.kit_lot_id else []
    data: dict[str, Any] = {
        "id": str(draw.pk),
        "status": "unavailable" if used_up else "available",
        "type": _concept(_coding(codes.SNOMED, codes.SNOMED_VENOUS_BLOOD)),
        "subject": reference("Patient", draw.patient_id),
        "collection": {
            "collector": _person(draw.drawn_by),
            "collectedDateTime": draw.drawn_at,
            "quantity": _ucum(draw.volume_ml, "mL"),
            "method": _concept(_coding(codes.SNOMED, codes.SNOMED_VENIPUNCTURE)),
            "bodySite": {"text": draw.get_site_display()},
        },
        "container": [container],
        "note": [{"text": f"{draw.tube_count} tube(s)"}],
    }
    if product is not None:
        data["identifier"] = [_product_identifier(product)]
    if extensions:
        data["extension"] = extensions
    # The lab values measured on this draw are Observations of their own (plt-<id>, hct-<id>, wbc-<id>) whose
    # specimen is this one: Observation?specimen=Specimen/<id>.
    return Specimen.model_validate(data)


def specimen_queryset(clinic_id: int) -> QuerySet:
    return (
        BloodDraw.objects.filter(clinic_id=clinic_id)
        .select_related("drawn_by", "tube_lot", "kit_lot", "product")
        .order_by("-drawn_at", "-pk")
    )


# --- BiologicallyDerivedProduct: the PRP (its whole blood, source "wb", is in clinical_chain.py) ----------------------

_UNAVAILABLE = {ProductStatus.APPLIED, ProductStatus.DISCARDED, ProductStatus.QUARANTINED}


def _spin_text(spin: Any) -> str:
    return f"Spin {spin.number}: {spin.rcf} x g ({spin.rpm} RPM) for {spin.minutes} min at {spin.temperature_c} °C"


def build_product(product: Product, ctx: BuildContext) -> BiologicallyDerivedProduct:
    draw = product.draw
    check_autologous(product=product, patient_id=product.patient_id)
    source = reference("Patient", product.patient_id)
    spins = sorted(product.spins.all(), key=lambda spin: spin.number)
    data: dict[str, Any] = {
        "id": str(product.pk),
        "identifier": [_product_identifier(product)],
        "productCategory": "fluid",
        "productCode": _concept(_local(*codes.PRODUCT_CODES["prp"])),
        "status": "unavailable" if product.status in _UNAVAILABLE else "available",
        "quantity": 1,
        "parent": [reference("BiologicallyDerivedProduct", _prefixed(WHOLE_BLOOD_PREFIX, draw.pk))],
        "collection": {"collector": _person(draw.drawn_by), "source": source, "collectedDateTime": draw.drawn_at},
        # R4's processing.procedure is a CodeableConcept: the step keeps the concept, and the processing-procedure
        # extension names the spin's own Procedure resource (centrifuge, g, time).
        "processing": [
            {
                "extension": [
                    {
                        "url": codes.PROCESSING_PROCEDURE_EXTENSION,
                        "valueReference": reference("Procedure", _prefixed(SPIN_PREFIX, spin.pk)),
                    }
                ],
                "description": _spin_text(spin),
                "procedure": _concept(_local(*codes.CENTRIFUGATION)),
                "timePeriod": {"start": spin.started_at, "end": spin.ends_at},
            }
            for spin in spins
        ],
    }
    if product.volume_ml is not None:
        data["extension"] = [_volume_extension(product.volume_ml)]
    if product.activation != "none":
        data["manipulation"] = {"description": f"Activated: {product.get_activation_display()}"}
    if product.expires_at is not None:
        data["storage"] = [{"description": "Use before this time", "duration": {"end": product.expires_at}}]
    if not data["processing"]:
        del data["processing"]
    return BiologicallyDerivedProduct.model_validate(data)


def product_queryset(clinic_id: int) -> QuerySet:
    return (
        Product.objects.filter(clinic_id=clinic_id)
        .select_related("draw__drawn_by")
        .prefetch_related("spins")
        .order_by("-created_at", "-pk")
    )


# --- Procedure: the treatment done at a visit ------------------------------------------------------------------------

_PROCEDURE_STATUS = {
    VisitStatus.OPEN: "in-progress",
    VisitStatus.COMPLETED: "completed",
    VisitStatus.CANCELLED: "not-done",
}


def _zone_site(entry: ZoneEntry) -> dict[str, Any]:
    return _concept(_local(codes.zone_code(entry.zone), entry.zone_label), text=entry.zone_label)


def build_procedure(visit: Visit, ctx: BuildContext) -> Procedure:
    entries = [entry for entry in visit.zone_entries.all() if entry.is_current]
    sites: list[dict[str, Any]] = []
    if any(entry.map == BodyMap.SCALP for entry in entries):
        sites.append(_concept(_coding(codes.SNOMED, codes.SNOMED_SCALP)))
    seen: set[str] = set()
    for entry in entries:
        if entry.zone not in seen:
            seen.add(entry.zone)
            sites.append(_zone_site(entry))
    extensions = []
    for application in visit.prp_applications.all():
        check_autologous(product=application.product, patient_id=visit.patient_id)
        if application.patient_id != visit.patient_id:
            raise AutologousRuleViolation(f"application {application.pk} names another patient than its visit")
        extensions.append(
            {
                "url": codes.PRP_PRODUCT_EXTENSION,
                "valueReference": reference("BiologicallyDerivedProduct", application.product_id),
            }
        )
    code, display = codes.PROCEDURE_CODES[visit.treatment]
    performed: dict[str, Any] = {"start": visit.started_at}
    if visit.completed_at:
        performed["end"] = visit.completed_at
    devices = sorted({entry.device_label for entry in entries if entry.device_label})
    data: dict[str, Any] = {
        "id": str(visit.pk),
        "status": _PROCEDURE_STATUS[visit.status],
        "code": _concept(_local(code, display), text=visit.get_treatment_display()),
        "subject": reference("Patient", visit.patient_id),
        "performedPeriod": performed,
        "performer": [{"actor": _person(visit.clinician)}],
    }
    if extensions:
        data["extension"] = extensions
    if sites:
        data["bodySite"] = sites
    if devices:
        data["usedCode"] = [{"text": label} for label in devices]
    return Procedure.model_validate(data)


def procedure_queryset(clinic_id: int) -> QuerySet:
    return (
        Visit.objects.filter(clinic_id=clinic_id)
        .select_related("clinician")
        .prefetch_related(
            Prefetch("zone_entries", queryset=ZoneEntry.objects.filter(is_current=True).order_by("entered_at", "id")),
            Prefetch("prp_applications", queryset=Application.objects.select_related("product__draw")),
        )
        .order_by("-started_at", "-pk")
    )


# --- Observation: outcome scores -------------------------------------------------------------------------------------


def build_observation(score: Score, ctx: BuildContext) -> Observation:
    scale = SCALES.get(score.scale)
    name = scale.name if scale else score.scale
    category = "survey" if score.rater == "patient" else "exam"
    data: dict[str, Any] = {
        "id": str(score.pk),
        "status": "corrected" if score.corrects_id else "final",
        "category": [_concept({"system": OBSERVATION_CATEGORY_SYSTEM, "code": category})],
        "code": _concept(_local(codes.scale_code(score.scale), name), text=name),
        "subject": reference("Patient", score.patient_id),
        "effectiveDateTime": score.recorded_on,
        "issued": score.recorded_at,
        "performer": [_person(score.recorded_by)],
    }
    if scale is not None and scale.kind == NUMERIC and score.value is not None:
        data["valueQuantity"] = {"value": score.value, "unit": scale.unit}
    elif score.level:
        level = scale.level(score.level, score.variant) if scale else None
        data["valueCodeableConcept"] = {"text": level.label if level else score.level}
    else:
        data["dataAbsentReason"] = {"text": "No value recorded"}
    if score.variant and scale is not None and (variant := scale.variant(score.variant)) is not None:
        data["method"] = {"text": variant.label or variant.code}
    if score.site:
        data["bodySite"] = {"text": score.site}
    if score.area_cm2 is not None:
        data["component"] = [
            {"code": _concept(_local(*codes.TARGET_AREA)), "valueQuantity": _ucum(score.area_cm2, "cm²", "cm2")}
        ]
    return Observation.model_validate(data)


def observation_queryset(clinic_id: int) -> QuerySet:
    return (
        Score.objects.filter(clinic_id=clinic_id, status=ScoreStatus.CURRENT)
        .select_related("recorded_by")
        .order_by("-recorded_on", "-pk")
    )


def _scale_filter(queryset: QuerySet, value: str, ctx: BuildContext) -> QuerySet:
    """``code=[<prpclinic system>|]scale-<scale>`` (commas: any of them)."""
    prefix = codes.scale_code("")
    wanted: list[str] = []
    for part in value.split(","):
        system, _, code = part.strip().rpartition("|")
        if (not system or system == codes.SYSTEM) and code.startswith(prefix):
            wanted.append(code.removeprefix(prefix))
    return queryset.filter(scale__in=wanted)


# --- Media: outcome photos --------------------------------------------------------------------------------------------


def photo_url(photo: Photo, ctx: BuildContext) -> str:
    """The photo's file as a FHIR Binary (``prpclinic/fhir/binary.py``), read with the same bearer token as the
    Media. The staff view's URL is not given: a FHIR client cannot open a page that needs a signed-in session."""
    return ctx.url("Binary", f"photo-{photo.pk}")


def build_media(photo: Photo, ctx: BuildContext) -> Media:
    if photo.area == PhotoArea.SCALP:
        site = _concept(_coding(codes.SNOMED, codes.SNOMED_SCALP))
    else:
        site = _concept(_local(*codes.AREA_FACE))
    data: dict[str, Any] = {
        "id": str(photo.pk),
        "status": "completed",
        "type": _concept({"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}),
        "view": _concept(_local(codes.view_code(photo.view), photo.get_view_display())),
        "subject": reference("Patient", photo.patient_id),
        "createdDateTime": photo.taken_at,
        "issued": photo.uploaded_at,
        "operator": _person(photo.uploaded_by),
        "bodySite": site,
        "width": photo.width,
        "height": photo.height,
        "content": {
            "contentType": photo.content_type,
            "url": photo_url(photo, ctx),
            "size": photo.byte_size,
            "title": photo.label,
            "creation": photo.taken_at,
        },
    }
    return Media.model_validate(data)


def media_queryset(clinic_id: int) -> QuerySet:
    return (
        Photo.objects.filter(clinic_id=clinic_id, status=PhotoStatus.ACTIVE)
        .select_related("uploaded_by")
        .order_by("-taken_at", "-pk")
    )


# --- Device: centrifuges ----------------------------------------------------------------------------------------------


def build_device(centrifuge: Centrifuge, ctx: BuildContext) -> Device:
    data: dict[str, Any] = {
        "id": str(centrifuge.pk),
        "status": "active" if centrifuge.in_service else "inactive",
        "manufacturer": centrifuge.make,
        "modelNumber": centrifuge.model,
        "serialNumber": centrifuge.serial_number,
        "deviceName": [{"name": centrifuge.name, "type": "user-friendly-name"}],
        "type": _concept(_local(*codes.CENTRIFUGE)),
    }
    if not centrifuge.in_service and centrifuge.out_of_service_reason:
        data["note"] = [{"text": f"Out of service: {centrifuge.out_of_service_reason}"}]
    return Device.model_validate(data)


def device_queryset(clinic_id: int) -> QuerySet:
    return Centrifuge.objects.filter(clinic_id=clinic_id).order_by("name", "pk")


# --- MedicationAdministration: mesotherapy ---------------------------------------------------------------------------

_ADMINISTRATION_STATUS = {
    VisitStatus.OPEN: "in-progress",
    VisitStatus.COMPLETED: "completed",
    VisitStatus.CANCELLED: "stopped",
}


def build_medication_administration(entry: ZoneEntry, ctx: BuildContext) -> MedicationAdministration:
    cocktail = entry.cocktail
    medication: dict[str, Any] = {"resourceType": "Medication", "id": "med", "code": {"text": cocktail.name}}
    if cocktail.ingredients:
        medication["ingredient"] = [{"itemCodeableConcept": {"text": str(name)}} for name in cocktail.ingredients]
    if entry.vial_lot_id:
        medication["batch"] = {"lotNumber": entry.vial_lot.lot_number, "expirationDate": entry.vial_lot.expiry_date}
    dosage: dict[str, Any] = {
        "text": entry.technique_label or "Intradermal injection",
        "site": _zone_site(entry),
        # No SNOMED route code is listed in STANDARDS.md: the route as text.
        "route": {"text": "Intradermal"},
    }
    if entry.volume_ml is not None:
        dosage["dose"] = _ucum(entry.volume_ml, "mL")
    data: dict[str, Any] = {
        "id": str(entry.pk),
        "contained": [medication],
        "status": _ADMINISTRATION_STATUS[entry.visit.status],
        "medicationReference": {"reference": "#med", "display": cocktail.name},
        "subject": reference("Patient", entry.visit.patient_id),
        "effectiveDateTime": entry.entered_at,
        "performer": [{"actor": _person(entry.entered_by)}],
        "partOf": [reference("Procedure", entry.visit_id)],
        "dosage": dosage,
    }
    return MedicationAdministration.model_validate(data)


def administration_queryset(clinic_id: int) -> QuerySet:
    return (
        ZoneEntry.objects.filter(clinic_id=clinic_id, is_current=True, cocktail__isnull=False)
        .select_related("visit", "cocktail", "vial_lot", "entered_by")
        # The patient's id on the row itself, for _include=MedicationAdministration:patient.
        .annotate(patient_ref=F("visit__patient_id"))
        .order_by("-entered_at", "-pk")
    )


# --- registration ----------------------------------------------------------------------------------------------------

_PATIENT_INCLUDE = {"patient": Include(target="Patient", id_attr="patient_id")}

register(
    ResourceDef(
        type_name="Specimen",
        queryset=specimen_queryset,
        build=build_specimen,
        search={
            "subject": SearchParam(type="reference", path="patient_id", target="Patient", description="The patient"),
            "identifier": SearchParam(
                type="token",
                description="The PRP product code made from this draw (urn:prpclinic:product)",
                filter=lambda qs, value, ctx: _product_code_filter(qs, value, ctx, "product__code"),
            ),
        },
        includes=_PATIENT_INCLUDE,
        patient_path="patient_id",
        date_path="drawn_at",
        profile_doc="The blood draw (venous blood, venipuncture); its lab values: Observation?specimen=Specimen/<id>.",
    )
)
register(
    ResourceDef(
        type_name="BiologicallyDerivedProduct",
        queryset=product_queryset,
        build=build_product,
        search={
            "identifier": SearchParam(
                type="token", description="Product code (urn:prpclinic:product)", filter=_product_code_filter
            ),
        },
        includes={
            **_PATIENT_INCLUDE,
            "parent": Include(target=_BDP, id_attr="draw_id", target_prefix=WHOLE_BLOOD_PREFIX),
        },
        patient_path="patient_id",
        date_path="created_at",
        profile_doc="Autologous PRP (numeric ids); parent = its whole blood, processing steps name the spins.",
    )
)
register(
    ResourceDef(
        type_name="Procedure",
        queryset=procedure_queryset,
        build=build_procedure,
        search={
            "subject": SearchParam(type="reference", path="patient_id", target="Patient", description="The patient"),
        },
        includes=_PATIENT_INCLUDE,
        patient_path="patient_id",
        date_path="started_at",
        profile_doc="Micro-needling, scalp PRP, mesotherapy; PRP given via extension " + codes.PRP_PRODUCT_EXTENSION,
    )
)
register(
    ResourceDef(
        type_name="Observation",
        queryset=observation_queryset,
        build=build_observation,
        search={
            "subject": SearchParam(type="reference", path="patient_id", target="Patient", description="The patient"),
            "code": SearchParam(type="token", description="Scale (local code scale-<scale>)", filter=_scale_filter),
        },
        includes=_PATIENT_INCLUDE,
        patient_path="patient_id",
        date_path="recorded_on",
        profile_doc="Outcome scores (hair density and other scales), one local concept per scale.",
    )
)


register(
    ResourceDef(
        type_name="Media",
        queryset=media_queryset,
        build=build_media,
        search={
            "subject": SearchParam(type="reference", path="patient_id", target="Patient", description="The patient"),
        },
        includes=_PATIENT_INCLUDE,
        patient_path="patient_id",
        date_path="taken_at",
        profile_doc="Outcome photos: metadata; content.url is Binary/photo-<id>, read with the same token.",
    )
)
register(
    ResourceDef(
        type_name="Device",
        queryset=device_queryset,
        build=build_device,
        search={
            "identifier": SearchParam(type="token", path="serial_number", description="Serial number"),
        },
        patient_path=None,
        profile_doc="Centrifuges.",
    )
)
register(
    ResourceDef(
        type_name="MedicationAdministration",
        queryset=administration_queryset,
        build=build_medication_administration,
        search={
            "subject": SearchParam(
                type="reference", path="visit__patient_id", target="Patient", description="The patient"
            ),
        },
        includes={"patient": Include(target="Patient", id_attr="patient_ref")},
        patient_path="visit__patient_id",
        date_path="entered_at",
        profile_doc="Mesotherapy per zone: cocktail, vial lot and expiry (contained Medication), dose, intradermal.",
    )
)


# The chain's further sources (wb-, spin-, lab values) build on the helpers above: imported last, so that importing
# this module serves every source of its types.
importlib.import_module("prpclinic.fhir.resources.clinical_chain")
