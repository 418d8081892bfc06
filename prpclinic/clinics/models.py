"""Clinics (tenants), staff accounts and their memberships with a role."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone as tz
from django.utils.crypto import salted_hmac

from prpclinic.clinics.roles import Role


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Vienna).")


class Clinic(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    mrn_prefix = models.CharField(max_length=6, default="P", help_text="Letters put before generated record numbers.")
    # The last generated record number; bumped under a row lock by patients.services.
    mrn_counter = models.PositiveBigIntegerField(default=0)
    # How long prepared PRP may be used. Default 4 h: PRP held at room temperature for up to
    # 4 h kept TGF-beta1 and MMP-9 unchanged (STANDARDS.md); follow the device's IFU.
    prp_expiry_minutes = models.PositiveSmallIntegerField(
        "PRP use-by limit (minutes after preparation)",
        default=240,
        validators=[MinValueValidator(10), MaxValueValidator(24 * 60)],
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=tz.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A person who signs in. What they may do depends on their membership in each clinic."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=tz.now)
    # Bumping this ends every session of the user (deactivation, role change): Django checks
    # the session's auth hash on each request, and the hash includes this number.
    session_generation = models.PositiveIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        key_salt = "prpclinic.clinics.User.session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}:{self.session_generation}", secret=secret, algorithm="sha256"
        ).hexdigest()


class Membership(models.Model):
    """A user's place in one clinic, with one role. Never deleted: deactivated instead."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=tz.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "user"], name="membership_one_per_clinic")]
        indexes = [models.Index(fields=["user", "is_active"], name="membership_user_active")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.clinic} ({self.get_role_display()})"
