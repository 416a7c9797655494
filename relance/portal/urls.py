"""URLs of the customer portal (mounted under /portal/ in config/urls.py).

Customer pages carry the signed token in the path; back-office lists need a signed-in user.
"""

from django.urls import path
from django.views.generic import RedirectView

from relance.portal import backoffice, views

app_name = "portal"
urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    # one dispute queue: the workspace's (customer's words and files, comments, owner, SLA, resolve)
    path("back/disputes/", RedirectView.as_view(pattern_name="workspace:disputes"), name="back_disputes"),
    path("back/promises/", backoffice.promises, name="back_promises"),
    path("back/plans/", backoffice.plans, name="back_plans"),
    path("back/contact-changes/", backoffice.contact_changes, name="back_contact_changes"),
    path(
        "back/contact-changes/<id:proposal_id>/decide/",
        backoffice.contact_change_decide,
        name="back_contact_change_decide",
    ),
    path(
        "back/plan-requests/<id:request_id>/decide/", backoffice.plan_request_decide, name="back_plan_decide"
    ),
    path("undo-email/<str:token>/", views.email_undo, name="email_undo"),
    path("t/<str:token>/", views.overview, name="overview"),
    path("t/<str:token>/items/", views.items, name="items"),
    path("t/<str:token>/invoices/<id:invoice_id>/", views.invoice_detail, name="invoice"),
    path("t/<str:token>/invoices/<id:invoice_id>/dispute/", views.dispute, name="dispute"),
    path(
        "t/<str:token>/invoices/<id:invoice_id>/document.pdf",
        views.invoice_document,
        name="invoice_document",
    ),
    path("t/<str:token>/statement.csv", views.statement_csv, name="statement_csv"),
    path("t/<str:token>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("t/<str:token>/messages/", views.messages, name="messages"),
    path("t/<str:token>/history/", views.history, name="history"),
    path("t/<str:token>/preferences/", views.preferences, name="preferences"),
    path("t/<str:token>/details/", views.details, name="details"),
    path("t/<str:token>/details/new/", views.details_new, name="details_new"),
    path("t/<str:token>/promise/", views.promise, name="promise"),
    path("t/<str:token>/cases/", views.cases, name="cases"),
    path("t/<str:token>/cases/<id:dispute_id>/", views.case, name="case"),
    path(
        "t/<str:token>/cases/<id:dispute_id>/files/<id:attachment_id>/", views.attachment, name="attachment"
    ),
    path("t/<str:token>/plan/", views.plan, name="plan"),
    path("t/<str:token>/pay/", views.pay, name="pay"),
    path("t/<str:token>/pay/done/", views.pay_done, name="pay_done"),
    path("t/<str:token>/renew/", views.renew, name="renew"),
    path("t/<str:token>/renew/code/", views.renew_code, name="renew_code"),
]
