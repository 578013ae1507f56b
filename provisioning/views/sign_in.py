"""Sign-in lockout (django-axes calls locked_out): the sign-in page again, saying why and for how long."""

import logging
import math

from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

logger = logging.getLogger("provisioning.sign_in")


def locked_out(request, original_response=None, credentials=None):
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    logger.warning(
        "Sign-in locked out: user name %r from %s after %d failed attempts; refused for %s.",
        username, get_client_ip_address(request), settings.AXES_FAILURE_LIMIT,
        f"{minutes} minutes from the last attempt" if minutes else "until an administrator unlocks it",
    )
    form = AuthenticationForm(request, initial={"username": username})
    return render(request, "auth/login.html", {
        "form": form, "locked_out": True, "lockout_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username": username, "next": request.POST.get("next", request.GET.get("next", "")),
    }, status=settings.AXES_HTTP_RESPONSE_CODE)
