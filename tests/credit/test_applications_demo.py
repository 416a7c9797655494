"""``relance demo`` ends with one pending credit application (``relance.demo.applications``)."""

from __future__ import annotations

import pytest

from relance.credit.models import ApplicationStatus, CreditApplication

pytestmark = pytest.mark.django_db


def test_the_demo_application_waits_for_a_credit_manager_once(entity, settings, tmp_path) -> None:
    from django.utils.functional import empty

    from relance.demo.applications import demo_pending_application
    from relance.portal.models import upload_storage

    settings.RELANCE_PORTAL_UPLOAD_ROOT = str(tmp_path)
    upload_storage._wrapped = empty  # type: ignore[assignment]
    try:
        application = demo_pending_application(entity=entity)
        assert application is not None and application.status == ApplicationStatus.SUBMITTED
        assert application.documents.count() == 3
        assert all(d.content_type == "application/pdf" for d in application.documents.all())
        assert demo_pending_application(entity=entity) is None
        assert CreditApplication.objects.count() == 1
    finally:
        upload_storage._wrapped = empty  # type: ignore[assignment]
