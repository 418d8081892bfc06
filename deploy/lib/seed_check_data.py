# Run by deploy/check.sh through `prpclinic shell -c`: one clinic, one nurse, one patient.
# Nurses sign in without a second factor (clinic admins and physicians need TOTP), so the
# check can sign in with curl. Prints KEY=value lines that the check reads, among them what
# the nurse posts before the patient's visit (issue #4): the screening form's answers (the
# harmless answer to every question, URL-encoded) and a drawn signature (a small PNG with ink,
# as the tablet's canvas posts it, as a data URL). The check posts both through nginx.
import base64
import datetime as dt
import io
import secrets
from urllib.parse import urlencode

from django.db import transaction
from PIL import Image, ImageDraw

from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import Role
from prpclinic.intake import rules
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

TREATMENT = "prp_scalp"
answers = {}
for question in rules.questions_for(TREATMENT):
    if question.kind == "yes_no":  # dates of last doses and lab values stay empty: none taken
        firing = {rule.fires_on for rule in rules.rules_for(TREATMENT) if rule.question == question.key}
        answers[question.key] = "yes" if firing == {False} else "no"  # "yes" only where "no" fires a rule
image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
ImageDraw.Draw(image).line((10, 50, 290, 60), fill=(17, 17, 17, 255), width=4)
png = io.BytesIO()
image.save(png, "PNG")

print(f"TREATMENT={TREATMENT}")
print(f"SCREENING_FORM={urlencode(answers)}")
print(f"SIGNATURE=data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}")
