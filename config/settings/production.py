"""Production: HTTPS, secure cookies, a real secret. ``manage.py check --deploy`` is clean with these."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import VAR_DIR, env_bool, env_str
from config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment (50+ random characters).")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# One cache for every worker process, so the sign-in throttle (docs/access.md) counts failures
# across them (the default in-memory cache is per process). Any shared cache will do.
CACHES = {
    "default": {
        "BACKEND": env_str("RELANCE_CACHE_BACKEND", "django.core.cache.backends.filebased.FileBasedCache"),
        "LOCATION": env_str("RELANCE_CACHE_LOCATION", str(VAR_DIR / "cache")),
    }
}
