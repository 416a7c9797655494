"""The exception queue's routes (``relance/workspace/cash_queue.py``), added to
``relance.workspace.urls`` (the ``workspace`` namespace, under ``/w/``)."""

from django.urls import path

from relance.workspace import cash_queue

urlpatterns = [
    path("cash/", cash_queue.cash_queue, name="cash_queue"),
    path("cash/lines/<id:line_id>/accept/", cash_queue.line_accept, name="cash_line_accept"),
    path("cash/lines/<id:line_id>/split/", cash_queue.line_split, name="cash_line_split"),
    path("cash/lines/<id:line_id>/assign/", cash_queue.line_assign, name="cash_line_assign"),
    path("cash/lines/<id:line_id>/unapply/", cash_queue.line_unapply, name="cash_line_unapply"),
]
