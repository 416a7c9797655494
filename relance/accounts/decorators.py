"""View decorators that ask ``user_can`` (the role's permissions), answering 403 when refused."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from relance.accounts.selectors import user_can

NOT_ALLOWED = "Your role does not allow this ({perm})."


def role_permission_required(
    perm: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """``@role_permission_required("dunning.change_policy")``: signed in, and the role holds ``perm``.

    Use this rather than Django's ``permission_required``: it also knows the default role of users
    granted entities before roles existed. Object-level checks stay in the view:
    ``user_can(request.user, perm, obj)``.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_can(request.user, perm):
                raise PermissionDenied(NOT_ALLOWED.format(perm=perm))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
