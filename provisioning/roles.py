"""The two portal roles, as Django auth groups: Administrators do everything; Helpdesk reads."""

from functools import wraps

from django.core.exceptions import PermissionDenied

ADMINISTRATORS = "Administrators"
HELPDESK = "Helpdesk"


def _groups(user):
    if not hasattr(user, "_portal_groups"):
        user._portal_groups = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
    return user._portal_groups


def is_administrator(user):
    return user.is_authenticated and (user.is_superuser or ADMINISTRATORS in _groups(user))


def is_reader(user):
    """May read Overview and Provisioning logs: Administrators and Helpdesk."""
    return is_administrator(user) or (user.is_authenticated and HELPDESK in _groups(user))


def administrators_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_administrator(request.user):
            raise PermissionDenied("Only Administrators can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def readers_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_reader(request.user):
            raise PermissionDenied("Your account has no portal role. Ask an administrator to add you to Helpdesk or Administrators.")
        return view(request, *args, **kwargs)

    return wrapper
