from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from prpclinic.api import api
from prpclinic.clinics import views as clinic_views
from prpclinic.clinics.urls import account_urls, staff_urls


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database check for load balancers: one trivial query, no session."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", clinic_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("account/", include(account_urls)),
    path("staff/", include(staff_urls)),
    path("patients/", include("prpclinic.patients.urls")),
    path("audit/", include("prpclinic.audit.urls")),
    path("treatments/", include("prpclinic.treatments.urls")),
    path("screening/", include("prpclinic.intake.urls")),
    path("consents/", include("prpclinic.consents.urls")),
    path("visits/", include("prpclinic.visits.urls")),
    path("aftercare/", include("prpclinic.aftercare.urls")),
    path("outcomes/", include("prpclinic.outcomes.urls")),
    path("schedule/", include("prpclinic.scheduling.urls")),
    path("calendar/", include("prpclinic.scheduling.calendar_urls")),
    path("reminders/", include("prpclinic.reminders.urls")),
    # FHIR R4 for other systems (bearer tokens, no session) and the staff pages that manage it.
    path("fhir/R4/", include("prpclinic.fhir.urls")),
    path("interop/", include("prpclinic.fhir.staff_urls")),
    # Public, token-guarded: a patient's confirm/cancel link and a clinician's iCalendar feed.
    path("r/", include("prpclinic.reminders.public_urls")),
    # Public pages for patients (no login): treatment information and the pre-visit questionnaire.
    path("info/", include("prpclinic.treatments.public_urls")),
    path("info/", include("prpclinic.intake.public_urls")),
    path("prp/", include("prpclinic.prp.urls")),
    path("api/", api.urls),
    path("planner/", include("prpclinic.planning.urls")),
]
