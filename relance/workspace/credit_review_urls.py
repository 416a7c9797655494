"""The credit review queue's routes, added to ``relance.workspace.urls`` (the ``workspace``
namespace, under ``/w/``)."""

from django.urls import path

from relance.workspace import credit_reviews

urlpatterns = [
    path("credit/reviews/", credit_reviews.review_queue, name="credit_reviews"),
    path("credit/reviews/<id:review_id>/decide/", credit_reviews.review_decide, name="credit_review_decide"),
]
