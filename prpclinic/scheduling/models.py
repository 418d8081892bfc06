"""Scheduling: rooms, clinicians' working hours and absences, appointment types and appointments.

Times of appointments and absences are stored in UTC; working hours are clock times of the
clinic's own time zone (a 09:00-17:00 day stays 09:00-17:00 local across a DST change).
On PostgreSQL an exclusion constraint (migration 0002) refuses two active appointments of one
clinician, or in one room, whose times overlap, whatever the application checked before.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from prpclinic.visits.models import TreatmentKind


class Room(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="room_name_per_clinic")]
        indexes = [models.Index(fields=["clinic", "is_active", "name"], name="room_clinic_active")]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """One stretch of a clinician's working day (several per day for a lunch break)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    # Local clock times in the clinic's time zone.
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["user_id", "weekday", "starts"]
        verbose_name_plural = "working hours"
        indexes = [models.Index(fields=["clinic", "user", "weekday"], name="workhours_clinic_user_day")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"

    def clean(self) -> None:
        if self.starts is not None and self.ends is not None and self.ends <= self.starts:
            raise ValidationError({"ends": "The end must be after the start."})


class Absence(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    # Absences are withdrawn, not deleted, so the record of who was away stays.
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["clinic", "user", "starts_at"], name="absence_clinic_user_start")]

    def __str__(self) -> str:
        return f"Absence {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must be after the start."})


class AppointmentType(models.Model):
    """A treatment's default appointment: its minutes split into preparation, spin and treatment.

    These are the clinic's settings, not clinical facts. The seeded spin of 15 minutes is the
    clinic's own statement ("spun in a centrifuge for about 15 minutes", PRP_REFERENCE §0);
    mesotherapy draws no blood and spins nothing (§7), so its spin and tubes are 0. Preparation
    and treatment minutes have no source: the seeded values are placeholders to edit.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    treatment = models.CharField(max_length=30, choices=TreatmentKind.choices)
    prep_minutes = models.PositiveSmallIntegerField("preparation (minutes)", validators=[MaxValueValidator(480)])
    spin_minutes = models.PositiveSmallIntegerField("spin (minutes)", validators=[MaxValueValidator(240)])
    treatment_minutes = models.PositiveSmallIntegerField(
        "treatment (minutes)", validators=[MinValueValidator(1), MaxValueValidator(480)]
    )
    tubes = models.PositiveSmallIntegerField("tubes in the centrifuge", default=0, validators=[MaxValueValidator(96)])
    updated_at = models.DateTimeField(default=timezone.now)
    # Empty while the seeded placeholder values stand: the set-up page asks the clinic to set its own.
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["treatment"]
        constraints = [models.UniqueConstraint(fields=["clinic", "treatment"], name="appttype_one_per_treatment")]

    def __str__(self) -> str:
        return self.get_treatment_display()

    @property
    def total_minutes(self) -> int:
        return self.prep_minutes + self.spin_minutes + self.treatment_minutes

    @property
    def is_placeholder(self) -> bool:
        return self.updated_by_id is None

    def clean(self) -> None:
        if self.spin_minutes and not self.tubes:
            raise ValidationError({"tubes": "A spin needs at least one tube in the centrifuge."})
        if self.tubes and not self.spin_minutes:
            raise ValidationError({"spin_minutes": "Tubes in the centrifuge need a spin time."})


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CHECKED_IN = "checked_in", "Checked in"
    IN_TREATMENT = "in_treatment", "In treatment"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


# Appointments in these statuses hold their clinician, room and centrifuge slots.
ACTIVE_STATUSES: tuple[str, ...] = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.IN_TREATMENT,
    AppointmentStatus.COMPLETED,
)


class Appointment(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="appointments")
    treatment = models.CharField(max_length=30, choices=TreatmentKind.choices)
    plan_session = models.ForeignKey(
        "treatments.PlannedSession", on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    centrifuge = models.ForeignKey(
        "prp.Centrifuge", on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    tubes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(96)])
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Copied from the appointment type at booking, so a later change of the type leaves it alone.
    prep_minutes = models.PositiveSmallIntegerField(default=0)
    spin_minutes = models.PositiveSmallIntegerField(default=0)
    treatment_minutes = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=14, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    status_reason = models.CharField(max_length=300, blank=True)
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["clinic", "starts_at"], name="appt_clinic_start"),
            models.Index(fields=["clinic", "clinician", "starts_at"], name="appt_clinic_clinician_start"),
            models.Index(fields=["clinic", "room", "starts_at"], name="appt_clinic_room_start"),
            models.Index(fields=["clinic", "patient", "starts_at"], name="appt_clinic_patient_start"),
            models.Index(fields=["clinic", "centrifuge", "starts_at"], name="appt_clinic_centrifuge_start"),
            models.Index(fields=["clinic", "plan_session"], name="appt_clinic_session"),
            models.Index(fields=["clinic", "visit"], name="appt_clinic_visit"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="appt_ends_after_start"),
            # A planned session has at most one appointment holding it; a cancelled or missed one frees it.
            models.UniqueConstraint(
                fields=["clinic", "plan_session"],
                condition=models.Q(plan_session__isnull=False, status__in=ACTIVE_STATUSES),
                name="appt_one_active_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_treatment_display()} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def spin_starts_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.prep_minutes)

    @property
    def spin_ends_at(self) -> dt.datetime:
        return self.spin_starts_at + dt.timedelta(minutes=self.spin_minutes)

    @property
    def treatment_starts_at(self) -> dt.datetime:
        return self.spin_ends_at

    @property
    def duration_minutes(self) -> int:
        return self.prep_minutes + self.spin_minutes + self.treatment_minutes
