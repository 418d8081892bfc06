"""Administrative FHIR resources: Patient, Appointment, Consent, QuestionnaireResponse, CarePlan, Provenance.

Each builder is a pure function of a row fetched by its ``queryset`` (related rows joined or prefetched there), so a
page of N resources costs a fixed number of queries. Mappings and codes are documented in docs/fhir.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from prpclinic.audit.models import AuditEvent
from prpclinic.consents.models import ConsentKind, SignedConsent
from prpclinic.fhir import registry
from prpclinic.fhir.codesystems import EXT_SHA256, local_coding
from prpclinic.fhir.registry import BuildContext, Include, ResourceDef, SearchError, SearchParam, reference, register
from prpclinic.intake.models import Screening
from prpclinic.intake.rules import QUESTIONS_BY_KEY
from prpclinic.patients.models import ExternalIdentifier, Patient, mrn_system
from prpclinic.prp.models import ProductStatus
from prpclinic.scheduling.models import Appointment
from prpclinic.treatments.models import PlannedSession, TreatmentPlan

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
QUESTIONNAIRE_BASE = "https://prpclinic.org/fhir/Questionnaire"


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _clinic_slug(obj: Any, ctx: BuildContext) -> str:
    return ctx.clinic.slug if ctx.clinic is not None and ctx.clinic.pk == obj.clinic_id else obj.clinic.slug


# --- Patient ---------------------------------------------------------------------------------------------------


def build_patient(patient: Patient, ctx: BuildContext) -> FhirPatient:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    links = []
    if patient.merged_into_id is not None:
        # This record is a merged duplicate: the survivor replaces it.
        links.append({"other": reference("Patient", patient.merged_into_id), "type": "replaced-by"})
    links += [{"other": reference("Patient", dup.pk), "type": "replaces"} for dup in patient.merged_duplicates.all()]
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"lastUpdated": _instant(patient.updated_at)},
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]},
                "system": mrn_system(_clinic_slug(patient, ctx)),
                "value": patient.mrn,
            },
            # Other systems' numbers for this patient (prefetched by _patients), as they were given to us.
            *({"system": other.system, "value": other.value} for other in patient.external_identifiers.all()),
        ],
        "active": patient.is_active and patient.merged_into_id is None,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,  # stored as the FHIR AdministrativeGender code
        "birthDate": patient.date_of_birth.isoformat(),
    }
    if telecom:
        data["telecom"] = telecom
    if patient.address:
        data["address"] = [{"use": "home", "text": patient.address}]
    if links:
        data["link"] = links
    return FhirPatient.model_validate(data)


def _patients(clinic_id: int) -> QuerySet:
    return (
        Patient.objects.filter(clinic_id=clinic_id)
        .select_related("clinic")
        .prefetch_related(
            Prefetch("merged_duplicates", queryset=Patient.objects.only("id", "merged_into_id")),
            Prefetch(
                "external_identifiers",
                queryset=ExternalIdentifier.objects.only("id", "patient_id", "system", "value").order_by(
                    "system", "value", "id"
                ),
            ),
        )
    )


def _identifier_filter(queryset: QuerySet, value: str, ctx: BuildContext) -> QuerySet:
    """``identifier=[system|]value`` (commas: any of them).

    Our MRN system (or ``|value``, no system) matches the record number; another system matches the clinic's
    external identifiers of that system; a bare value matches the MRN or an external identifier of any system
    (the FHIR token rule). The identifier rows are looked up in a subquery, so a patient is listed once.
    """
    own = mrn_system(ctx.clinic.slug) if ctx.clinic is not None else None
    identifiers = ExternalIdentifier.objects.all()
    if ctx.clinic is not None:
        identifiers = identifiers.filter(clinic_id=ctx.clinic.pk)
    mrns: list[str] = []
    foreign = Q(pk__in=[])
    for part in value.split(","):
        system, bar, code = part.rpartition("|")
        if not bar:  # no system given: any identifier with this value
            mrns.append(part)
            foreign |= Q(value=part)
        elif system in ("", own):
            mrns.append(code)
        else:
            foreign |= Q(system=system, value=code)
    return queryset.filter(Q(mrn__in=mrns) | Q(pk__in=identifiers.filter(foreign).values("patient_id")))


PATIENT = register(
    ResourceDef(
        type_name="Patient",
        queryset=_patients,
        build=build_patient,
        search={
            "identifier": SearchParam(
                type="token",
                description="MRN or another system's identifier, [system]|value",
                filter=_identifier_filter,
            ),
            "birthdate": SearchParam(type="date", path="date_of_birth", description="Date of birth"),
            "gender": SearchParam(type="token", path="sex", description="Administrative gender"),
            "active": SearchParam(type="token", path="is_active", filter=lambda qs, v, c: _active(qs, v)),
        },
        patient_path="id",
        profile_doc="Patients of the clinic; merged duplicates link to the survivor (replaced-by).",
    )
)


def _active(queryset: QuerySet, value: str) -> QuerySet:
    if value not in ("true", "false"):
        raise SearchError("active must be true or false.")
    return queryset.filter(is_active=value == "true")


# --- Appointment -----------------------------------------------------------------------------------------------

# prpclinic status -> http://hl7.org/fhir/appointmentstatus (R4).
APPOINTMENT_STATUS = {
    "booked": "booked",
    "checked_in": "checked-in",
    "in_treatment": "arrived",  # R4 has no "in progress": the patient has arrived and is being seen
    "completed": "fulfilled",
    "no_show": "noshow",
    "cancelled": "cancelled",
}


def build_appointment(appointment: Appointment, ctx: BuildContext) -> FhirAppointment:
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.pk),
        "meta": {"lastUpdated": _instant(appointment.updated_at)},
        "status": APPOINTMENT_STATUS[appointment.status],
        "serviceType": [{"coding": [local_coding(f"treatment-{appointment.treatment}")]}],
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "minutesDuration": max(1, int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)),
        "created": appointment.created_at.astimezone(dt.UTC).date().isoformat(),
        "participant": [
            {"actor": reference("Patient", appointment.patient_id), "required": "required", "status": "accepted"},
            # Practitioners and locations are not served as resources: named by display only.
            {"actor": {"display": appointment.clinician.get_full_name()}, "required": "required", "status": "accepted"},
            {"actor": {"display": f"Room {appointment.room.name}"}, "required": "required", "status": "accepted"},
        ],
    }
    return FhirAppointment.model_validate(data)


APPOINTMENT = register(
    ResourceDef(
        type_name="Appointment",
        queryset=lambda clinic_id: Appointment.objects.filter(clinic_id=clinic_id).select_related("clinician", "room"),
        build=build_appointment,
        search={
            "status": SearchParam(
                type="token",
                description="FHIR appointment status",
                filter=lambda qs, v, c: qs.filter(
                    status__in=[k for k, code in APPOINTMENT_STATUS.items() if code in v.split(",")]
                ),
            ),
        },
        includes={"patient": Include(target="Patient", id_attr="patient_id")},
        patient_path="patient_id",
        date_path="starts_at",
        profile_doc="Bookings; status mapped to R4 appointmentstatus (docs/fhir.md).",
    )
)


# --- Consent ---------------------------------------------------------------------------------------------------


def build_consent(consent: SignedConsent, ctx: BuildContext) -> Consent:
    revocation = consent.revocation_or_none()
    now = timezone.now()
    # R4 consent-state-codes: a revoked or expired consent is "inactive".
    status = "active" if revocation is None and consent.expires_at > now else "inactive"
    is_photo = consent.kind == ConsentKind.PHOTOGRAPHY
    category_code = "consent-photography" if is_photo else f"treatment-{consent.kind}"
    # The signed PDF as a FHIR Binary of this server: a client follows it with the same bearer token.
    pdf_url = ctx.url("Binary", f"consent-{consent.pk}")
    sha256 = base64.b64encode(bytes.fromhex(consent.pdf_sha256)).decode() if consent.pdf_sha256 else None
    attachment: dict[str, Any] = {
        "contentType": "application/pdf",
        "url": pdf_url,
        "size": consent.pdf_size,
        "title": f"{consent.template.title} (version {consent.template_version}), signed",
        "creation": _instant(consent.signed_at),
    }
    if sha256:
        # FHIR's attachment.hash is SHA-1; we keep SHA-256 of the signed PDF, so it goes in our extension.
        attachment["extension"] = [{"url": EXT_SHA256, "valueBase64Binary": sha256}]
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": _instant(consent.signed_at), "end": _instant(consent.expires_at)},
    }
    if revocation is not None:
        provision["period"]["end"] = _instant(min(revocation.revoked_at, consent.expires_at))
    data: dict[str, Any] = {
        "resourceType": "Consent",
        "id": str(consent.pk),
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": CONSENT_SCOPE,
                    "code": "patient-privacy" if is_photo else "treatment",
                    "display": "Privacy Consent" if is_photo else "Treatment",
                }
            ]
        },
        "category": [
            {"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]},
            {"coding": [local_coding(category_code)]},
        ],
        "patient": reference("Patient", consent.patient_id),
        "dateTime": _instant(consent.signed_at),
        "sourceAttachment": attachment,
        # The exact text signed: the template version (immutable), named by a stable URN.
        "policy": [{"uri": f"urn:prpclinic:consent-template:{consent.template_id}:v{consent.template_version}"}],
        "provision": provision,
    }
    if consent.signer_relationship == "patient":
        data["performer"] = [reference("Patient", consent.patient_id)]
    return Consent.model_validate(data)


CONSENT = register(
    ResourceDef(
        type_name="Consent",
        queryset=lambda clinic_id: (
            SignedConsent.objects.filter(clinic_id=clinic_id)
            .select_related("template", "revocation")
            .defer("signature_png", "witness_signature_png")
        ),
        build=build_consent,
        includes={"patient": Include(target="Patient", id_attr="patient_id")},
        patient_path="patient_id",
        date_path="signed_at",
        profile_doc="Signed consents; the signed PDF as sourceAttachment (SHA-256 in an extension).",
    )
)


# --- QuestionnaireResponse (screenings) ---------------------------------------------------------------------------


def _answer(kind: str | None, value: Any) -> list[dict[str, Any]]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list):
        return [a for item in value for a in _answer(kind, item)]
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if kind == "yes_no" and isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
        return [{"valueBoolean": value.lower() in ("yes", "true")}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, (float, Decimal)):
        return [{"valueDecimal": value}]
    if isinstance(value, str):
        if kind == "date":
            try:
                return [{"valueDate": dt.date.fromisoformat(value).isoformat()}]
            except ValueError:
                pass
        if kind == "lab":
            try:
                return [{"valueDecimal": Decimal(value)}]
            except ArithmeticError:
                pass
        return [{"valueString": value}]
    return [{"valueString": json.dumps(value, sort_keys=True, default=str)}]


def build_screening(screening: Screening, ctx: BuildContext) -> QuestionnaireResponse:
    items: list[dict[str, Any]] = []
    for key, value in sorted((screening.answers or {}).items()):
        question = QUESTIONS_BY_KEY.get(key)
        item: dict[str, Any] = {"linkId": key, "text": question.text if question else key}
        answers = _answer(question.kind if question else None, value)
        if answers:
            item["answer"] = answers
        items.append(item)
    items.append(
        {
            "linkId": "screening-result",
            "text": "Screening result (the clinic's rule set)",
            "answer": [{"valueCoding": local_coding("screening-result", screening.get_result_display())}],
        }
    )
    data: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(screening.pk),
        "questionnaire": f"{QUESTIONNAIRE_BASE}/screening-{screening.treatment}|{screening.ruleset_version}",
        "status": "completed",
        "subject": reference("Patient", screening.patient_id),
        "authored": _instant(screening.recorded_at),
        "author": {"display": screening.recorded_by.get_full_name()},
        "item": items,
    }
    return QuestionnaireResponse.model_validate(data)


SCREENING = register(
    ResourceDef(
        type_name="QuestionnaireResponse",
        queryset=lambda clinic_id: Screening.objects.filter(clinic_id=clinic_id).select_related("recorded_by"),
        build=build_screening,
        includes={"patient": Include(target="Patient", id_attr="patient_id")},
        patient_path="patient_id",
        date_path="recorded_at",
        profile_doc="Contraindication screenings: one item per answer, plus the rule set's result.",
    )
)


# --- CarePlan (treatment plans) -----------------------------------------------------------------------------------

# prpclinic plan status -> http://hl7.org/fhir/request-status (R4).
CAREPLAN_STATUS = {"active": "active", "completed": "completed", "stopped": "revoked"}


def _activity_status(session: PlannedSession) -> str:
    # http://hl7.org/fhir/care-plan-activity-status
    if session.status == "removed":
        return "cancelled"
    if session.visit_id is not None:
        return "completed"
    return "scheduled"


def build_careplan(plan: TreatmentPlan, ctx: BuildContext) -> CarePlan:
    activities = [
        {
            "detail": {
                "code": {"coding": [local_coding(f"treatment-{plan.kind}")]},
                "status": _activity_status(session),
                "scheduledPeriod": {"start": session.due_date.isoformat()},
                "description": f"Session {session.number} ({session.get_kind_display().lower()})",
            }
        }
        for session in plan.sessions.all()
    ]
    data: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.pk),
        "status": CAREPLAN_STATUS[plan.status],
        "intent": "plan",
        "category": [{"coding": [local_coding(f"treatment-{plan.kind}")]}],
        "title": plan.treatment.name,
        "subject": reference("Patient", plan.patient_id),
        "period": {"start": plan.start_date.isoformat()},
        "created": _instant(plan.created_at),
        "author": {"display": plan.created_by.get_full_name()},
    }
    if activities:
        data["activity"] = activities
    return CarePlan.model_validate(data)


CAREPLAN = register(
    ResourceDef(
        type_name="CarePlan",
        queryset=lambda clinic_id: (
            TreatmentPlan.objects.filter(clinic_id=clinic_id)
            .select_related("treatment", "created_by")
            .prefetch_related(Prefetch("sessions", queryset=PlannedSession.objects.order_by("number")))
        ),
        build=build_careplan,
        includes={"patient": Include(target="Patient", id_attr="patient_id")},
        patient_path="patient_id",
        date_path="start_date",
        profile_doc="Treatment series: one activity per planned session with its due date and status.",
    )
)


# --- Provenance (from the audit trail) ----------------------------------------------------------------------------

# Audit object type -> (FHIR type, {audit action -> v3-DataOperation code}). Reads (views, downloads) are not
# provenance; only the writes that created or changed a served resource are.
PROVENANCE_SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "patients.patient": (
        "Patient",
        {
            "patient.create": "CREATE",
            "patient.update": "UPDATE",
            "patient.reactivate": "UPDATE",
            "patient.deactivate": "UPDATE",
            "patient.merge": "UPDATE",
            "patient.merged_away": "UPDATE",
            "patient.identifier_add": "UPDATE",
        },
    ),
    "scheduling.appointment": (
        "Appointment",
        {
            "appointment.book": "CREATE",
            "appointment.move": "UPDATE",
            **{f"appointment.{status}": "UPDATE" for status in APPOINTMENT_STATUS},
        },
    ),
    "consents.signedconsent": ("Consent", {"consent.sign": "CREATE", "consent.revoke": "UPDATE"}),
    "intake.screening": ("QuestionnaireResponse", {"screening.record": "CREATE", "screening.review": "UPDATE"}),
    "treatments.treatmentplan": (
        "CarePlan",
        {
            "plan.create": "CREATE",
            **{
                f"plan.{kind}": "UPDATE"
                for kind in ("add", "remove", "move", "count", "maintenance", "stop", "session_link")
            },
        },
    ),
    # Clinical records served by resources/clinical.py (every product and every visit is served there).
    "prp.product": (
        "BiologicallyDerivedProduct",
        {
            "prp.draw": "CREATE",
            "prp.spin": "UPDATE",
            "prp.prepare": "UPDATE",
            "prp.apply": "UPDATE",
            **{f"product.{status}": "UPDATE" for status in ProductStatus.values},
        },
    ),
    "visits.visit": ("Procedure", {"visit.start": "CREATE", "visit.complete": "UPDATE"}),
}
PROVENANCE_ACTIONS = sorted({action for _, actions in PROVENANCE_SOURCES.values() for action in actions})


def build_provenance(event: AuditEvent, ctx: BuildContext) -> Provenance:
    target_type, actions = PROVENANCE_SOURCES[event.object_type]
    operation = actions[event.action]
    who = event.actor.get_full_name() if event.actor is not None else (event.actor_label or "prpclinic")
    data: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": str(event.pk),
        "target": [reference(target_type, event.object_id)],
        "recorded": _instant(event.created_at),
        "activity": {"coding": [{"system": DATA_OPERATION, "code": operation}], "text": event.action},
        "agent": [
            {
                "type": {"coding": [{"system": PROVENANCE_AGENT, "code": "author", "display": "Author"}]},
                "who": {"display": who},
            }
        ],
    }
    return Provenance.model_validate(data)


def _provenance(clinic_id: int) -> QuerySet:
    # Rows whose action belongs to the object type (the action list alone could match another type's rows).
    condition = Q(pk__in=[])
    for object_type, (fhir_type, actions) in PROVENANCE_SOURCES.items():
        if registry.get(fhir_type) is not None:  # only targets this server serves
            condition |= Q(object_type=object_type, action__in=list(actions))
    return (
        AuditEvent.objects.filter(clinic_id=clinic_id).filter(condition).exclude(object_id="").select_related("actor")
    )


def _target_filter(queryset: QuerySet, value: str, ctx: BuildContext) -> QuerySet:
    by_type = {fhir_type: object_type for object_type, (fhir_type, _) in PROVENANCE_SOURCES.items()}
    condition = Q(pk__in=[])
    for part in value.split(","):
        type_name, _, pk = part.rpartition("/")
        if type_name not in by_type or registry.get(type_name) is None or not pk.isdigit():
            raise SearchError("target must be a reference like Patient/12 to a type with provenance.")
        condition |= Q(object_type=by_type[type_name], object_id=pk)
    return queryset.filter(condition)


PROVENANCE = register(
    ResourceDef(
        type_name="Provenance",
        queryset=_provenance,
        build=build_provenance,
        search={"target": SearchParam(type="reference", description="The resource recorded", filter=_target_filter)},
        date_path="created_at",
        profile_doc="Who created or changed each Patient, Appointment, Consent, QuestionnaireResponse, CarePlan, "
        "BiologicallyDerivedProduct, Procedure (from the audit trail).",
    )
)
