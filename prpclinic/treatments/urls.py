from django.urls import path

from prpclinic.treatments import views

urlpatterns = [
    path("", views.catalogue_list, name="treatments_catalogue"),
    path("<int:treatment_id>/", views.treatment_detail, name="treatments_treatment"),
    path("<int:treatment_id>/edit/", views.protocol_edit, name="treatments_protocol_edit"),
    path("<int:treatment_id>/text/", views.treatment_text_edit, name="treatments_text_edit"),
    path("protocols/<int:protocol_id>/", views.protocol_detail, name="treatments_protocol"),
    path("formulary/", views.formulary, name="treatments_formulary"),
    path("formulary/cocktails/", views.cocktail_create, name="treatments_cocktail_create"),
    path("formulary/cocktails/<int:cocktail_id>/active/", views.cocktail_active, name="treatments_cocktail_active"),
    path("formulary/lots/", views.vial_lot_register, name="treatments_vial_lot_register"),
    path("plans/new/<int:patient_id>/", views.plan_create, name="treatments_plan_create"),
    path("plans/<int:plan_id>/", views.plan_detail, name="treatments_plan"),
    path("plans/<int:plan_id>/<str:action>/", views.plan_change, name="treatments_plan_change"),
]
