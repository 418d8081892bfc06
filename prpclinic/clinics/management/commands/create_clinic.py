"""``prpclinic create_clinic``: a new clinic with its first clinic admin (the way in on a new install)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import Role
from prpclinic.treatments.seeding import seed_catalogue


class Command(BaseCommand):
    help = "Create a clinic and its first clinic admin; the admin sets a password through 'Forgot your password?'."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="short unique id, e.g. linden")
        parser.add_argument("--timezone", default="UTC", help="e.g. Europe/Vienna")
        parser.add_argument("--mrn-prefix", default="P")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            with transaction.atomic():
                clinic = Clinic(name=o["name"], slug=o["slug"], timezone=o["timezone"], mrn_prefix=o["mrn_prefix"])
                clinic.full_clean()
                clinic.save()
                email = o["admin_email"].strip().lower()
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User(email=email, full_name=o["admin_name"].strip())
                    user.set_unusable_password()
                    user.full_clean()
                    user.save()
                Membership.objects.create(clinic=clinic, user=user, role=Role.CLINIC_ADMIN)
                # A new clinic starts with the sourced catalogue (protocols, zones, formulary) to edit.
                seed_catalogue(clinic=clinic)
                audit_record(
                    action="clinic.create",
                    clinic=clinic,
                    obj=clinic,
                    changes={"name": clinic.name, "admin": email, "source": "create_clinic command"},
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(
            f"Clinic {clinic.name} created with admin {email}. They set their password with "
            "'Forgot your password?' on the sign-in page, then enrol two-factor sign-in."
        )
