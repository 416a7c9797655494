"""Settings shared by every environment. Everything secret or site-specific comes from the environment."""

from __future__ import annotations

from config.env import (
    BASE_DIR,
    VAR_DIR,
    database_config,
    email_config,
    env_bool,
    env_list,
    env_str,
    local_secret_key,
    package_dir,
)

DEBUG = env_bool("RELANCE_DEBUG", False)
# From the environment; otherwise a random key kept in var/secret_key. production.py insists on the env.
SECRET_KEY = env_str("SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # The admin without autodiscovery at start-up: config/urls.py discovers the admin modules, so a
    # command that serves no page does not import them (and the services they use): issue 20.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "relance.common",
    "relance.ledger",
    "relance.events",
    "relance.webhooks",
    "relance.ingest",
    "relance.reports",
    "relance.api",
    "relance.web",
    "relance.demo",
    "relance.cases",
    "relance.dunning",
    "relance.comms",
    "relance.delivery",
    "relance.charges",
    "relance.compliance",
    "relance.accounts",
    "relance.audit",
    "relance.portal",
    "relance.credit",
    "relance.cashapp",
    "relance.predict",
    "relance.quality",
    "relance.connectors",
    "relance.workspace",
    # django-anymail without importing its checks (and requests) at every start: issue 20.
    "relance.delivery.apps.AnymailConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "relance.common.security.SecurityHeadersMiddleware",  # CSP and the other headers (docs/security.md)
    "relance.common.security.RejectNulMiddleware",  # a NUL anywhere in a request is a 400
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "relance.audit.middleware.AuditContextMiddleware",  # who is acting, for the audit trail
    "relance.accounts.middleware.SessionSecurityMiddleware",  # idle timeout, pending second factor
    "relance.accounts.middleware.ReadOnlyRoleMiddleware",  # support and auditors change nothing
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # django-ninja's templates (Swagger UI at /api/v1/docs, local assets, no CDN) without ninja
        # as an installed app: that imported ninja and pydantic at every start (issue 20).
        "DIRS": [package_dir("ninja") / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "relance.accounts.context_processors.access",
            ],
        },
    },
]

DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("zh-hans", "中文"),
]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATICFILES_DIRS = [package_dir("ninja") / "static"]  # Swagger UI's files (see TEMPLATES)
WHITENOISE_USE_FINDERS = True

# The largest request body read into memory (docs/security.md). The API's bulk writes take up
# to 10,000 items; at their longest fields 10,000 customers are about 11 MB of JSON. Django's
# 2.5 MB default refused such bodies with a 500; over this limit the API answers 413.
RELANCE_MAX_BODY_BYTES = int(env_str("RELANCE_MAX_BODY_BYTES", str(16 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = RELANCE_MAX_BODY_BYTES

LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
LOGIN_URL = "web:login"
# Refuses password checks while a username or address is locked (also on the admin's form).
AUTHENTICATION_BACKENDS = ["relance.accounts.backends.ThrottledModelBackend"]

SESSION_COOKIE_AGE = 60 * 60 * 12
# Roles, sign-in and sessions (docs/access.md).
# Signed-in sessions end after this many seconds without a request (and after 12 h in any case).
RELANCE_SESSION_IDLE_SECONDS = int(env_str("RELANCE_SESSION_IDLE_SECONDS", "1800"))
# Failed sign-ins before a lock, per username (the account attacked) and, much higher, per client
# address (an office or a proxy is many users); the lock's length.
RELANCE_LOGIN_MAX_FAILURES = int(env_str("RELANCE_LOGIN_MAX_FAILURES", "5"))
RELANCE_LOGIN_MAX_FAILURES_PER_IP = int(env_str("RELANCE_LOGIN_MAX_FAILURES_PER_IP", "100"))
RELANCE_LOGIN_LOCK_SECONDS = int(env_str("RELANCE_LOGIN_LOCK_SECONDS", "900"))
# Networks (CIDR) of the reverse proxies in front of Relance: only from these is X-Forwarded-For
# read for the client's address (relance/common/client.py; docs/security.md). Empty: REMOTE_ADDR.
RELANCE_TRUSTED_PROXIES = env_list("RELANCE_TRUSTED_PROXIES", [])
# The role of a user granted entities (EntityAccess) but in no role group: what grants meant
# before roles existed. Empty: such users see nothing until given a role.
RELANCE_DEFAULT_ROLE = env_str("RELANCE_DEFAULT_ROLE", "credit_manager")
# The portal keeps its rendered overview and open-items pages per link and data version
# (relance/portal/pagecache.py; docs/portal.md). Off: every view renders afresh.
RELANCE_PORTAL_PAGE_CACHE = env_bool("RELANCE_PORTAL_PAGE_CACHE", True)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Origins a form may lead to besides this site (the portal's "Pay" redirects to the provider).
RELANCE_CSP_FORM_TARGETS = env_list("RELANCE_CSP_FORM_TARGETS", ["https://checkout.stripe.com"])

locals().update(email_config(env_str("EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "relance@localhost")

# Communications (docs/communications.md). Links in messages are absolute: set the public address.
# Unset, `relance serve` and `relance demo` make it follow the address they serve on.
RELANCE_PUBLIC_URL = env_str("RELANCE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
RELANCE_PUBLIC_URL_SET = bool(env_str("RELANCE_PUBLIC_URL"))
# One backend per channel, as a dotted path (Django-style); tests use the in-memory ones.
RELANCE_CHANNELS = {
    "email": env_str("RELANCE_EMAIL_CHANNEL", "relance.delivery.channels.email.EmailChannel"),
    "sms": env_str("RELANCE_SMS_CHANNEL", "relance.delivery.channels.twilio.TwilioSmsChannel"),
    "letter": env_str("RELANCE_LETTER_CHANNEL", "relance.delivery.channels.letter.LetterChannel"),
    "call": "relance.delivery.channels.call.CallTaskChannel",
    "portal": "relance.delivery.channels.portal.PortalChannel",
}
# django-anymail: provider settings from the environment (ANYMAIL_* variables), e.g. for Mailgun or
# Postmark; webhooks under /delivery/anymail/. See docs/communications.md.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in __import__("os").environ.items()
    if key.startswith("ANYMAIL_")
}
# Mail sent by SMTP through a provider's relay (EMAIL_URL smtp://…) whose tracking webhooks should
# count (e.g. "postmark"); empty: no provider event changes an SMTP-sent message (docs/security.md).
RELANCE_SMTP_TRACKING_ESP = env_str("RELANCE_SMTP_TRACKING_ESP", "")

RELANCE_VAR_DIR = VAR_DIR
RELANCE_BASE_DIR = BASE_DIR
# Which engine backend computes KPIs and runs: "app" (the application database) or a DuckDB/Parquet URL.
# Outbound webhooks (docs/integrations.md, ADR 0026). ALLOW_PRIVATE lets endpoints on loopback and
# private addresses through (tests, on-premise ERPs); refused by default (SSRF).
RELANCE_WEBHOOK_ALLOW_PRIVATE = env_bool("RELANCE_WEBHOOK_ALLOW_PRIVATE", False)
RELANCE_WEBHOOK_TIMEOUT_SECONDS = float(env_str("RELANCE_WEBHOOK_TIMEOUT_SECONDS", "10"))
RELANCE_WEBHOOK_RETRY_SECONDS = float(env_str("RELANCE_WEBHOOK_RETRY_SECONDS", "5"))
RELANCE_WEBHOOK_RETRY_HOURS = float(env_str("RELANCE_WEBHOOK_RETRY_HOURS", "72"))
RELANCE_WEBHOOK_DISABLE_AFTER_FAILURES = int(env_str("RELANCE_WEBHOOK_DISABLE_AFTER_FAILURES", "10"))
RELANCE_WEBHOOK_CONCURRENCY = int(env_str("RELANCE_WEBHOOK_CONCURRENCY", "16"))
RELANCE_WEBHOOK_POLL_SECONDS = float(env_str("RELANCE_WEBHOOK_POLL_SECONDS", "0.25"))

RELANCE_ENGINE_BACKEND = env_str("RELANCE_ENGINE_BACKEND", "app")
# Aging buckets as inclusive upper bounds of days past due: "0,30,60,90" → current, 1-30, …, 91+.
RELANCE_AGING_BUCKETS = env_str("RELANCE_AGING_BUCKETS", "0,30,60,90")
# Up to this many invoices the dashboard computes missing KPI snapshots while the page loads;
# above it, it shows the last stored ones (stale, marked) and `relance kpi snapshot` refreshes them.
RELANCE_DASHBOARD_LIVE_LIMIT = int(env_str("RELANCE_DASHBOARD_LIVE_LIMIT", "20000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    # WeasyPrint warns per missing glyph (e.g. Chinese without a CJK font: install fonts-noto-cjk).
    "loggers": {"weasyprint": {"level": "ERROR"}, "fontTools": {"level": "ERROR"}},
}
