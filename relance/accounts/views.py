"""Sign-in (password, then the second factor when set up) and the second-factor pages. Thin."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from relance.accounts import services
from relance.accounts.models import TotpDevice
from relance.audit.services import audit_record
from relance.common.client import client_ip
from relance.core.errors import ValidationFailed

LOCKED = "Too many failed sign-ins. For your security, signing in is paused for {minutes} minutes."
BAD_CODE = "That code did not match. Enter the 6-digit code from your app, or a recovery code."
PENDING_EXPIRED = "Your sign-in took too long. Please enter your password again."
PENDING_USER = "relance_pending_user"
PENDING_SECONDS = 300
ENROL_SECRET = "relance_totp_new_secret"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _locked_message() -> str:
    return LOCKED.format(minutes=max(1, settings.RELANCE_LOGIN_LOCK_SECONDS // 60))


def _throttle() -> services.LoginThrottle:
    return services.LoginThrottle.from_settings()


def login_view(request: HttpRequest) -> HttpResponse:
    """Password first. A user with a second factor is not signed in yet: the code comes next."""
    if request.user.is_authenticated:
        return redirect(_next(request))
    form = AuthenticationForm(request, data=request.POST or None)
    locked = False
    if request.method == "POST":
        username = request.POST.get("username", "")
        ip = client_ip(request) or "unknown"
        if _throttle().locked(username=username, ip=ip):
            locked = True
            audit_record(
                action="login_locked", actor_label=username[:150], request=request, object_type="auth.user"
            )
        elif form.is_valid():
            user = form.get_user()
            if TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
                request.session[PENDING_USER] = {
                    "id": user.pk,
                    "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
                    "at": int(time.time()),
                    "next": _next(request),
                }
                return redirect("web:login_verify")
            auth.login(request, user)
            return redirect(_next(request))
        else:
            locked = _throttle().locked(username=username, ip=ip)
    status = 429 if locked else 200
    context = {"form": form, "next": _next(request), "locked_message": _locked_message() if locked else ""}
    return render(request, "registration/login.html", context, status=status)


def login_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a TOTP code or a recovery code. Failures count for the throttle too."""
    pending = request.session.get(PENDING_USER)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_USER, None)
        if pending:
            messages.info(request, PENDING_EXPIRED)
        return redirect("web:login")
    user = auth.get_user_model().objects.filter(pk=pending["id"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_USER, None)
        return redirect("web:login")
    error = ""
    status = 200
    if request.method == "POST":
        ip = client_ip(request) or "unknown"
        if _throttle().locked(username=user.get_username(), ip=ip):
            error, status = _locked_message(), 429
        else:
            matched = services.totp_verify(user=user, code=request.POST.get("code", ""))
            if matched:
                request.session.pop(PENDING_USER, None)
                request.relance_second_factor = matched  # type: ignore[attr-defined]
                auth.login(request, user, backend=pending["backend"])
                if matched == "recovery":
                    audit_record(action="recovery_code_used", actor=user, request=request, obj=user)
                return redirect(pending["next"])
            _throttle().failed(username=user.get_username(), ip=ip)
            audit_record(
                action="login_failed",
                actor_label=user.get_username(),
                request=request,
                obj=user,
                after={"step": "second factor"},
            )
            error, status = BAD_CODE, 200
    return render(
        request,
        "accounts/login_verify.html",
        {"error": error, "username": user.get_username()},
        status=status,
    )


def _qr_svg(uri: str) -> str:
    import segno

    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title="TOTP set-up code")


@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Set up the second factor: scan the QR code, confirm with a first code, keep the recovery codes."""
    user: Any = request.user
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    context: dict[str, Any] = {"device": device}
    if device is None:
        secret = request.session.get(ENROL_SECRET) or services.totp_secret_new()
        request.session[ENROL_SECRET] = secret
        if request.method == "POST":
            try:
                codes = services.totp_enrol(
                    user=request.user, secret=secret, code=request.POST.get("code", "")
                )
            except ValidationFailed as error:
                context["error"] = error.message
            else:
                request.session.pop(ENROL_SECRET, None)
                audit_record(action="totp_enrolled", actor=request.user, request=request, obj=user)
                return render(request, "accounts/recovery_codes.html", {"codes": codes})
        uri = services.totp_provisioning_uri(user=request.user, secret=secret)
        context.update({"secret": secret, "qr_svg": _qr_svg(uri)})
    return render(request, "accounts/totp.html", context)


def _code_checked(request: HttpRequest) -> bool:
    user: Any = request.user
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    return device is not None and services.totp_code_matches(
        secret=device.secret, code=request.POST.get("code", "")
    )


@login_required
def totp_disable(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if request.method != "POST":
        return redirect("web:totp_enrol")
    if not _code_checked(request):
        messages.error(request, BAD_CODE)
        return redirect("web:totp_enrol")
    services.totp_reset(user=request.user)
    audit_record(action="totp_reset", actor=request.user, request=request, obj=user)
    messages.success(request, "Your second factor is removed.")
    return redirect("web:totp_enrol")


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if request.method != "POST":
        return redirect("web:totp_enrol")
    if not _code_checked(request):
        messages.error(request, BAD_CODE)
        return redirect("web:totp_enrol")
    codes = services.recovery_codes_regenerate(user=request.user)
    audit_record(action="recovery_codes_regenerated", actor=request.user, request=request, obj=user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes})
