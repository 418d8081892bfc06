"""The PRP chain's further FHIR sources (issue #8): the whole blood, the spins and the lab values as resources of
their own, next to the primary sources of their types in ``clinical.py``.

- ``BiologicallyDerivedProduct/wb-<draw>``: the whole blood of a ``BloodDraw``, the ``parent`` of the PRP.
- ``Procedure/spin-<spin>``: a ``Spin`` as a centrifugation, the centrifuge in ``usedReference``, ``partOf`` the visit.
- ``Observation/<prefix>-<row>``: one source per measured column (``LAB_VALUES``), only the rows where it was measured;
  whole-blood values with ``specimen`` the Specimen (platelets: LOINC 777-3), PRP counts with ``focus`` the product.

Each builder checks the autologous rule on the rows it reads and raises ``AutologousRuleViolation``, as the primary
builders do. ``clinical.py`` imports this module last, so registering a type's primary source and these stay one
import (``prpclinic.fhir.resources`` imports ``clinical``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone
from fhir.resources.R4B.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure

from prpclinic.fhir.registry import BuildContext, Include, ResourceDef, SearchParam, reference, register
from prpclinic.fhir.resources import clinical_codes as codes
from prpclinic.fhir.resources.clinical import (
    _BDP,
    _PATIENT_INCLUDE,
    OBSERVATION_CATEGORY_SYSTEM,
    SPIN_PREFIX,
    WHOLE_BLOOD_PREFIX,
    AutologousRuleViolation,
    _checked_draw_product,
    _coding,
    _concept,
    _local,
    _lot_extension,
    _person,
    _prefixed,
    _spin_text,
    _ucum,
    _volume_extension,
    check_autologous,
)
from prpclinic.prp.models import BloodDraw, Product, ProductStatus, Spin

# --- BiologicallyDerivedProduct source "wb": the whole blood -------------------------------------------------------


def build_whole_blood(draw: BloodDraw, ctx: BuildContext) -> BiologicallyDerivedProduct:
    """The whole blood of a draw, the parent of the PRP made from it (``BiologicallyDerivedProduct/wb-<draw>``)."""
    product = _checked_draw_product(draw)
    extensions = [_volume_extension(draw.volume_ml), _lot_extension("tube", draw.tube_lot)]
    if draw.kit_lot_id:
        extensions.append(_lot_extension("kit", draw.kit_lot))
    # Available until it is spun (the product leaves "drawn"): from then on it has become the PRP, or was discarded.
    available = product is None or product.status == ProductStatus.DRAWN
    data: dict[str, Any] = {
        "id": _prefixed(WHOLE_BLOOD_PREFIX, draw.pk),
        "extension": extensions,
        "productCategory": "fluid",
        "productCode": _concept(_local(*codes.PRODUCT_CODES["whole_blood"]), text=draw.get_anticoagulant_display()),
        "status": "available" if available else "unavailable",
        "quantity": draw.tube_count,
        "collection": {
            "collector": _person(draw.drawn_by),
            "source": reference("Patient", draw.patient_id),
            "collectedDateTime": draw.drawn_at,
        },
    }
    return BiologicallyDerivedProduct.model_validate(data)


def whole_blood_queryset(clinic_id: int) -> QuerySet:
    return (
        BloodDraw.objects.filter(clinic_id=clinic_id)
        .select_related("drawn_by", "tube_lot", "kit_lot", "product")
        .order_by("-drawn_at", "-pk")
    )


# --- Procedure source "spin": a centrifugation ----------------------------------------------------------------------


def _spin_extensions(spin: Spin) -> list[dict[str, Any]]:
    """The product it made (prp-product) and the run's settings as quantities a client can compute with."""
    return [
        {
            "url": codes.PRP_PRODUCT_EXTENSION,
            "valueReference": reference("BiologicallyDerivedProduct", spin.product_id),
        },
        {"url": codes.SPIN_RCF_EXTENSION, "valueQuantity": _ucum(spin.rcf, "x g", "[g]")},
        {"url": codes.SPIN_RPM_EXTENSION, "valueQuantity": _ucum(spin.rpm, "RPM", "/min")},
        {"url": codes.SPIN_DURATION_EXTENSION, "valueDuration": _ucum(spin.minutes, "min")},
        {"url": codes.SPIN_TEMPERATURE_EXTENSION, "valueQuantity": _ucum(spin.temperature_c, "°C", "Cel")},
    ]


def build_spin(spin: Spin, ctx: BuildContext) -> Procedure:
    """A spin as a centrifugation Procedure (``Procedure/spin-<pk>``), part of the visit's Procedure."""
    product = spin.product
    check_autologous(product=product, patient_id=product.patient_id)
    visit = product.draw.visit
    if visit.patient_id != product.patient_id:
        raise AutologousRuleViolation(f"spin {spin.pk}: the blood was drawn at another patient's visit")
    data: dict[str, Any] = {
        "id": _prefixed(SPIN_PREFIX, spin.pk),
        "extension": _spin_extensions(spin),
        # A spin is recorded when it starts: until its end time it is running.
        "status": "in-progress" if spin.ends_at > timezone.now() else "completed",
        "code": _concept(_local(*codes.CENTRIFUGATION)),
        "subject": reference("Patient", product.patient_id),
        "partOf": [reference("Procedure", visit.pk)],
        "performedPeriod": {"start": spin.started_at, "end": spin.ends_at},
        "performer": [{"actor": _person(spin.started_by)}],
        # usedReference, not focalDevice: R4's focalDevice is a device acted on (implanted, removed), not a tool.
        "usedReference": [reference("Device", spin.centrifuge_id)],
        "note": [{"text": _spin_text(spin)}],
    }
    return Procedure.model_validate(data)


def spin_queryset(clinic_id: int) -> QuerySet:
    return (
        Spin.objects.filter(clinic_id=clinic_id)
        .select_related("product__draw__visit", "started_by")
        # The patient's id on the row itself, for _include=Procedure:patient.
        .annotate(patient_ref=F("product__patient_id"))
        .order_by("-started_at", "-pk")
    )


# --- Observation sources: lab values, one per measured column ------------------------------------------------------


@dataclass(frozen=True)
class LabValue:
    """A lab value column served as Observations ``<prefix>-<row pk>``: on the draw (whole blood, ``specimen`` the
    Specimen) or on the product (PRP, ``focus`` the BiologicallyDerivedProduct)."""

    prefix: str
    column: str
    coding: dict[str, str]
    unit: str
    on_product: bool


LAB_VALUES: tuple[LabValue, ...] = (
    LabValue(
        "plt", "platelets_k_per_ul", _coding(codes.LOINC, codes.LOINC_PLATELETS_BLOOD), codes.UNIT_K_PER_UL, False
    ),
    LabValue("hct", "hematocrit_pct", _local(*codes.LAB_CODES["hematocrit"]), "%", False),
    LabValue("wbc", "wbc_k_per_ul", _local(*codes.LAB_CODES["wbc_blood"]), codes.UNIT_K_PER_UL, False),
    LabValue("prp-plt", "platelets_k_per_ul", _local(*codes.LAB_CODES["prp_platelets"]), codes.UNIT_K_PER_UL, True),
    LabValue("prp-wbc", "wbc_k_per_ul", _local(*codes.LAB_CODES["prp_wbc"]), codes.UNIT_K_PER_UL, True),
    LabValue("prp-rbc", "rbc_m_per_ul", _local(*codes.LAB_CODES["prp_rbc"]), codes.UNIT_M_PER_UL, True),
)


def build_lab_observation(lab: LabValue, row: BloodDraw | Product) -> Observation:
    """One measured value; the autologous rule is checked on the draw or product it was measured on."""
    data: dict[str, Any] = {
        "id": _prefixed(lab.prefix, row.pk),
        "status": "final",
        "category": [_concept({"system": OBSERVATION_CATEGORY_SYSTEM, "code": "laboratory", "display": "Laboratory"})],
        "code": _concept(lab.coding),
        "subject": reference("Patient", row.patient_id),
        "valueQuantity": _ucum(getattr(row, lab.column), lab.unit),
    }
    if isinstance(row, Product):
        check_autologous(product=row, patient_id=row.patient_id)
        data["effectiveDateTime"] = row.prepared_at or row.created_at
        data["focus"] = [reference("BiologicallyDerivedProduct", row.pk)]
    else:
        _checked_draw_product(row)
        data["effectiveDateTime"] = row.drawn_at
        data["specimen"] = reference("Specimen", row.pk)
    return Observation.model_validate(data)


def _lab_queryset(lab: LabValue) -> Callable[[int], QuerySet]:
    def queryset(clinic_id: int) -> QuerySet:
        # Only rows where the value was measured: a missing value is not an Observation.
        rows = Product.objects.select_related("draw") if lab.on_product else BloodDraw.objects.select_related("product")
        return rows.filter(clinic_id=clinic_id, **{f"{lab.column}__isnull": False}).order_by("-pk")

    return queryset


def _lab_code_filter(lab: LabValue) -> Callable[[QuerySet, str, BuildContext], QuerySet]:
    """``code=[system|]code`` (commas: any): all of this source's rows when one part names its code, else none."""

    def code_filter(queryset: QuerySet, value: str, ctx: BuildContext) -> QuerySet:
        for part in value.split(","):
            system, bar, code = part.strip().rpartition("|")
            if code == lab.coding["code"] and (not bar or system in ("", lab.coding["system"])):
                return queryset
        return queryset.none()

    return code_filter


# --- registration ----------------------------------------------------------------------------------------------------

register(
    ResourceDef(
        type_name=_BDP,
        queryset=whole_blood_queryset,
        build=build_whole_blood,
        includes=_PATIENT_INCLUDE,
        patient_path="patient_id",
        date_path="drawn_at",
        profile_doc="the whole blood of a draw, parent of the PRP made from it.",
        id_prefix=WHOLE_BLOOD_PREFIX,
    )
)
register(
    ResourceDef(
        type_name="Procedure",
        queryset=spin_queryset,
        build=build_spin,
        includes={"patient": Include(target="Patient", id_attr="patient_ref")},
        patient_path="product__patient_id",
        date_path="started_at",
        profile_doc="a centrifugation (one spin of a PRP), the centrifuge in usedReference, part of the visit.",
        id_prefix=SPIN_PREFIX,
    )
)


def _register_lab_value(lab: LabValue) -> None:
    about: dict[str, SearchParam] = (
        {"focus": SearchParam(type="reference", path="pk", target=_BDP, description="The PRP measured")}
        if lab.on_product
        else {"specimen": SearchParam(type="reference", path="pk", target="Specimen", description="The draw measured")}
    )
    includes = dict(_PATIENT_INCLUDE)
    if not lab.on_product:
        includes["specimen"] = Include(target="Specimen", id_attr="pk")
    code = SearchParam(
        type="token", description=f"{lab.coding['system']}|{lab.coding['code']}", filter=_lab_code_filter(lab)
    )
    register(
        ResourceDef(
            type_name="Observation",
            queryset=_lab_queryset(lab),
            build=lambda row, ctx: build_lab_observation(lab, row),
            search={"code": code, **about},
            includes=includes,
            patient_path="patient_id",
            date_path="prepared_at" if lab.on_product else "drawn_at",
            profile_doc=f"{lab.coding['display']} ({lab.unit}).",
            id_prefix=lab.prefix,
        )
    )


for _lab in LAB_VALUES:
    _register_lab_value(_lab)
