from django.urls import path

from prpclinic.prp.views import bedside, board, chain, inventory, labels

urlpatterns = [
    path("board/", board.board, name="prp_board"),
    path("verify/", bedside.verify, name="prp_verify"),
    path("incidents/", board.incidents, name="prp_incidents"),
    path("incidents/<int:incident_id>/close/", board.incident_close, name="prp_incident_close"),
    path("products/<int:product_id>/", board.trace, name="prp_trace"),
    path("products/<int:product_id>/spin/", chain.spin_start, name="prp_spin"),
    path("products/<int:product_id>/prepare/", chain.prepare, name="prp_prepare"),
    path("products/<int:product_id>/apply/", bedside.apply, name="prp_apply"),
    path("products/<int:product_id>/discard/", chain.discard, name="prp_discard"),
    path("products/<int:product_id>/quarantine/", chain.quarantine, name="prp_quarantine"),
    path("products/<int:product_id>/release/", chain.release, name="prp_release"),
    path("draw/<int:visit_id>/", chain.draw_blood, name="prp_draw"),
    path("products/<int:product_id>/labels/", labels.product_labels, name="prp_labels"),
    path("patients/<int:patient_id>/wristband/", labels.patient_wristband, name="prp_wristband"),
    path("devices/", inventory.devices, name="prp_devices"),
    path("devices/<int:centrifuge_id>/", inventory.device, name="prp_device"),
    path("devices/<int:centrifuge_id>/programs/", inventory.program_add, name="prp_program_add"),
    path("lots/", inventory.lots, name="prp_lots"),
    path("lots/<int:lot_id>/recall/", inventory.lot_recall, name="prp_lot_recall"),
    path("lots/<int:lot_id>/", inventory.lot_usage_view, name="prp_lot_usage"),
]
