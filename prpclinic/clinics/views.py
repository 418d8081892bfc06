"""Sign-in, two-factor, own account, clinic switching and staff management pages."""

from __future__ import annotations

import base64

import zxingcpp
from django import forms
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from prpclinic.audit.services import audit_record
from prpclinic.clinics import services
from prpclinic.clinics.access import clinic_view, member_view
from prpclinic.clinics.models import Membership
from prpclinic.clinics.roles import Role
from prpclinic.clinics.tasks import send_email
from prpclinic.patients.selectors import patients_recent


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, with the mail handed to the task worker (a slow or absent mail
    server must not break the page, nor say whether the address has an account)."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, object],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        send_email.enqueue(subject=subject, body=body, to=[to_email])


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"})
    )


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "clinics/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\d{6}$",
        max_length=6,
        label="Six-digit code",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _finish_two_factor(request: HttpRequest, device: TOTPDevice, action: str) -> HttpResponse:
    otp_login(request, device)
    request.session["mfa"] = "done"
    audit_record(action=action, request=request, actor=request.user, obj=request.user)
    return redirect("home")


@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in for accounts with an authenticator."""
    if not request.user.is_authenticated:
        return redirect("login")
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if isinstance(device, TOTPDevice):
            return _finish_two_factor(request, device, "login.two_factor")
        audit_record(action="login.two_factor_failed", request=request, actor=request.user, obj=request.user)
        form.add_error("token", "That code is not right, or it has expired. Try the current one.")
    return render(request, "clinics/two_factor_verify.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code, then confirm with a first code."""
    if not request.user.is_authenticated:
        return redirect("login")
    device = TOTPDevice.objects.filter(
        user=request.user, confirmed=False, pk=request.session.get("totp_setup_id") or 0
    ).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False)
        request.session["totp_setup_id"] = device.pk
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
            request.session.pop("totp_setup_id", None)
            messages.success(request, "Two-factor sign-in is on for your account.")
            return _finish_two_factor(request, device, "two_factor.enrol")
        form.add_error("token", "That code does not match. Check the time on your phone and try the current code.")
    qr_svg = zxingcpp.create_barcode(device.config_url, zxingcpp.BarcodeFormat.QRCode).to_svg()
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "clinics/two_factor_setup.html",
        {"form": form, "qr_svg": qr_svg, "secret": secret},
        status=400 if form.errors else 200,
    )


@member_view
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    recent = patients_recent(clinic_id=request.clinic.pk, limit=8)
    return render(request, "clinics/home.html", {"recent": recent})


@member_view
@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    has_two_factor = TOTPDevice.objects.filter(user=request.user, confirmed=True).exists()
    memberships = Membership.objects.select_related("clinic").filter(user=request.user).order_by("clinic__name")
    return render(request, "clinics/account.html", {"has_two_factor": has_two_factor, "memberships": memberships})


@member_view
@require_POST
def clinic_switch(request: HttpRequest) -> HttpResponse:
    clinic_id = request.POST.get("clinic_id", "")
    if not clinic_id.isdigit():
        messages.error(request, "Choose a clinic.")
        return redirect("home")
    membership = services.clinic_switch(request=request, clinic_id=int(clinic_id))
    messages.success(request, f"You are now working at {membership.clinic.name}.")
    return redirect("home")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "clinics/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form: forms.Form) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(action="password.change", request=self.request, obj=self.request.user)
        messages.success(self.request, "Your password was changed.")
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "clinics/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: forms.Form) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(action="password.reset", actor=form.user, request=self.request, obj=form.user)  # type: ignore[attr-defined]
        return response


class InviteForm(forms.Form):
    full_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


@clinic_view("staff.manage")
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.staff_invite(request=request, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Invitation sent to {membership.user.email}.")
            return redirect("staff_list")
    memberships = (
        Membership.objects.select_related("user")
        .filter(clinic=request.clinic)
        .order_by("-is_active", "user__full_name")
    )
    return render(
        request,
        "clinics/staff.html",
        {"form": form, "memberships": memberships, "roles": Role.choices},
        status=400 if form.errors else 200,
    )


def _staff_action(request: HttpRequest, action: object, **kwargs: object) -> HttpResponse:
    try:
        membership = action(request=request, **kwargs)  # type: ignore[operator]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Saved for {membership.user.full_name}.")
    return redirect("staff_list")


@clinic_view("staff.manage")
@require_POST
def staff_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("staff_list")
    return _staff_action(
        request, services.staff_change_role, membership_id=membership_id, role=form.cleaned_data["role"]
    )


@clinic_view("staff.manage")
@require_POST
def staff_deactivate(request: HttpRequest, membership_id: int) -> HttpResponse:
    return _staff_action(request, services.staff_deactivate, membership_id=membership_id)


@clinic_view("staff.manage")
@require_POST
def staff_reactivate(request: HttpRequest, membership_id: int) -> HttpResponse:
    return _staff_action(request, services.staff_reactivate, membership_id=membership_id)
