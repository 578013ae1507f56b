"""Full page or swapped region: the one rule every view uses to answer HTMX requests."""

from django.shortcuts import render


def wants_partial(request):
    """An HTMX swap — but not a boosted navigation, nor a history restore (Back needs the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def render_region(request, template, region, context, **kwargs):
    """Render `template#region` for an HTMX swap, else the whole `template`."""
    return render(request, f"{template}#{region}" if wants_partial(request) else template, context, **kwargs)
