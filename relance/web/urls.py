from django.contrib.auth import views as auth_views
from django.urls import path

from relance.accounts import views as accounts
from relance.web import audit_views as audit
from relance.web import branding, exports, views

app_name = "web"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("brand.css", branding.brand_css, name="brand_css"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<id:customer_id>/", views.customer_detail, name="customer_detail"),
    path("customers/export.csv", exports.customer_export, name="customer_export"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/export.csv", exports.invoice_export, name="invoice_export"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("login/", accounts.login_view, name="login"),
    path("login/verify/", accounts.login_verify, name="login_verify"),
    path("account/totp/", accounts.totp_enrol, name="totp_enrol"),
    path("account/totp/disable/", accounts.totp_disable, name="totp_disable"),
    path("account/totp/recovery-codes/", accounts.recovery_codes, name="recovery_codes"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
