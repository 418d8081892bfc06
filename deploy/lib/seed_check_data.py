# Run by deploy/check.sh through `prpclinic shell -c`: one clinic, one nurse, one patient.
# Nurses sign in without a second factor (clinic admins and physicians need TOTP), so the
# check can sign in with curl. Prints KEY=value lines that the check reads.
import datetime as dt
import secrets

from django.db import transaction

from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import Role
from prpclinic.patients.models import Patient, Sex
from prpclinic.patients.services import next_mrn

password = secrets.token_urlsafe(18)
with transaction.atomic():
    clinic = Clinic.objects.create(
        name="Deploy Check Clinic", slug="deploy-check", timezone="Europe/Vienna", mrn_prefix="D"
    )
    nurse = User.objects.create_user("nurse@deploy-check.invalid", password, full_name="Nina Deploycheck")
    Membership.objects.create(clinic=clinic, user=nurse, role=Role.NURSE)
    patient = Patient(
        clinic=clinic,
        mrn=next_mrn(clinic),
        given_name="Zoë",
        family_name="Lindqvist-Öberg",
        date_of_birth=dt.date(1984, 5, 17),
        sex=Sex.FEMALE,
    )
    patient.full_clean()
    patient.save()

print(f"NURSE_EMAIL={nurse.email}")
print(f"NURSE_PASSWORD={password}")
print(f"PATIENT_ID={patient.pk}")
print(f"PATIENT_NAME={patient.given_name} {patient.family_name}")
