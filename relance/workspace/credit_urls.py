"""The credit panel, a bureau report and "Room to grow" (``relance/workspace/credit_views.py``)."""

from django.urls import path

from relance.workspace import credit_views

urlpatterns = [
    path("customers/<id:customer_id>/credit/", credit_views.customer_credit, name="customer_credit"),
    path(
        "customers/<id:customer_id>/credit/bureau/<id:report_id>/",
        credit_views.customer_bureau_report,
        name="customer_bureau_report",
    ),
    path("room-to-grow/", credit_views.room_to_grow_list, name="room_to_grow"),
]
