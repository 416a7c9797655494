from django.urls import include, path

from relance.workspace import (
    credit_applications,
    credit_review_urls,
    duplicates_review,
    exports,
    holds,
    policy_views,
    views,
)

app_name = "workspace"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/export.csv", exports.worklist_export, name="worklist_export"),
    path("worklist/bulk/", views.worklist_bulk, name="worklist_bulk"),
    path("worklist/views/", views.worklist_view_save, name="worklist_view_save"),
    path("worklist/views/<id:view_id>/delete/", views.worklist_view_delete, name="worklist_view_delete"),
    path("worklist/snooze/<id:customer_id>/", views.worklist_snooze, name="worklist_snooze"),
    path("customers/<id:customer_id>/", views.customer_360, name="customer"),
    path("customers/<id:customer_id>/outcome/", views.customer_outcome, name="customer_outcome"),
    path("customers/<id:customer_id>/note/", views.customer_note, name="customer_note"),
    path("customers/<id:customer_id>/reassign/", views.customer_reassign, name="customer_reassign"),
    path("customers/<id:customer_id>/next/", views.customer_next, name="customer_next"),
    path("customers/<id:customer_id>/behaviour/", views.customer_behaviour, name="customer_behaviour"),
    path("customers/<id:customer_id>/items/", views.customer_items, name="customer_items"),
    path("disputes/", views.dispute_queue, name="disputes"),
    path("disputes/<id:dispute_id>/", views.dispute_detail, name="dispute"),
    path("disputes/<id:dispute_id>/assign/", views.dispute_assign, name="dispute_assign"),
    path("disputes/<id:dispute_id>/comment/", views.dispute_comment, name="dispute_comment"),
    path("disputes/<id:dispute_id>/resolve/", views.dispute_resolve, name="dispute_resolve"),
    path("disputes/<id:dispute_id>/files/<id:attachment_id>/", views.dispute_file, name="dispute_file"),
    path("disputes/export.csv", exports.dispute_export, name="disputes_export"),
    path("promises/", views.promise_queue, name="promises"),
    path("promises/export.csv", exports.promise_export, name="promises_export"),
    path("plans/", views.plan_queue, name="plans"),
    path("plans/export.csv", exports.plan_export, name="plans_export"),
    path("search/", views.search, name="search"),
    path("find/", views.find, name="find"),
    path("credit/applications/", include(credit_applications.urlpatterns)),
    path("policies/", views.policy_list, name="policies"),
    path("policies/<id:policy_id>/simulate/", policy_views.policy_simulate, name="policy_simulate"),
    path("policies/<id:policy_id>/edit/", policy_views.policy_edit, name="policy_edit"),
    path("policies/<id:policy_id>/history/", policy_views.policy_history, name="policy_history"),
    path("policies/<id:policy_id>/rollback/", policy_views.policy_rollback, name="policy_rollback"),
]

# "I'm on it" hold requests and the why page (relance/workspace/holds.py)
urlpatterns += [
    path("my-accounts/", holds.my_accounts, name="my_accounts"),
    path("customers/<id:customer_id>/hold/", holds.hold_request, name="customer_hold"),
    path("customers/<id:customer_id>/holds/<id:hold_id>/lift/", holds.hold_lift, name="customer_hold_lift"),
    path("customers/<id:customer_id>/why/", holds.customer_why, name="customer_why"),
]

# The credit panel, a bureau report and "Room to grow" (relance/workspace/credit_views.py)
urlpatterns += [path("", include("relance.workspace.credit_urls"))]  # type: ignore[list-item]
# The credit review queue (relance/workspace/credit_review_urls.py)
urlpatterns += credit_review_urls.urlpatterns
# The exception queue of cash application (relance/workspace/cash_queue.py)
urlpatterns += [path("", include("relance.workspace.cash_queue_urls"))]  # type: ignore[list-item]
# The data-quality fix list (relance/workspace/quality_urls.py)
urlpatterns += [path("", include("relance.workspace.quality_urls"))]  # type: ignore[list-item]
# Duplicate customers and merges (relance/workspace/duplicates_review.py)
urlpatterns += duplicates_review.urlpatterns
# Webhook endpoints, their log, test and replay (relance/workspace/webhooks_urls.py)
urlpatterns += [path("", include("relance.workspace.webhooks_urls"))]  # type: ignore[list-item]
