from django.contrib.auth import views as auth_views
from django.urls import path

from prpclinic.clinics import views

account_urls = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("", views.account, name="account"),
    path("switch-clinic/", views.clinic_switch, name="clinic_switch"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=views.PasswordResetForm,
            template_name="clinics/password_reset.html",
            email_template_name="clinics/email/password_reset.txt",
            subject_template_name="clinics/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="clinics/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="clinics/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]

staff_urls = [
    path("", views.staff_list, name="staff_list"),
    path("<int:membership_id>/role/", views.staff_role, name="staff_role"),
    path("<int:membership_id>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("<int:membership_id>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
]
