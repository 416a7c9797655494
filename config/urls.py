from django.contrib import admin
from django.urls import include, path

# INSTALLED_APPS has SimpleAdminConfig: the admin modules load with the URLs, not at every start-up.
admin.autodiscover()

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("relance.api.urls")),
    path("comms/", include("relance.comms.urls")),
    path("delivery/", include("relance.delivery.urls")),
    path("compliance/", include("relance.compliance.urls")),
    path("portal/", include("relance.portal.urls")),
    path("credit/", include("relance.credit.urls")),
    path("w/", include("relance.workspace.urls")),
    path("", include("relance.web.urls")),
]
