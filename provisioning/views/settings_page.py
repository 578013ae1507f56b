"""The Provisioning page: mode, Admin Credentials (+ Test Connection), Settings, Mappings (Administrators only)."""

from dataclasses import replace

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from provisioning import audit, tasks
from provisioning.engine.connection import check_target
from provisioning.engine.credentials import issuer, jwks_url
from provisioning.engine.cycle import ProvisioningNotConfigured, start_provisioning, stop_provisioning
from provisioning.forms.settings_page import ProvisioningSettingsForm, TestConnectionForm
from provisioning.models import Application
from provisioning.roles import administrators_only
from provisioning.scim import quirks
from provisioning.scim.quirks import Quirks
from provisioning.secrets import SecretUnreadable, redact


def _mapping_rows(app):
    rows = []
    for mapping in app.object_mappings.annotate(attribute_count=Count("attribute_mappings")):
        try:
            # The mappings page is another area's; until it is routed the name is shown without a link.
            href = reverse("apps:mappings", kwargs={"app_id": app.id, "object_type": mapping.object_type})
        except NoReverseMatch:
            href = ""
        rows.append({"mapping": mapping, "href": href})
    return rows


def _page(request, app, form):
    context = {"app": app, "blade_tab": "provisioning", "form": form, "mapping_rows": _mapping_rows(app),
               "lessons": Quirks.of(app).lessons(),
               "token_issuer": issuer(), "jwks_url": jwks_url(),
               "token_lifetime_minutes": settings.PORTAL_TOKEN_LIFETIME_SECONDS // 60}
    return render(request, "settings_page/provisioning.html", context)


def _switch_provisioning(request, app, *, was_enabled, enable):
    """Turn Provisioning Status On or Off through the engine, which queues or stops the cycles."""
    if enable and not was_enabled:
        cycle = start_provisioning(app, requested_by=request.user)
        transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
        return "Provisioning Status is On: the first cycle is queued. Follow it on the Overview page."
    if was_enabled and not enable:
        stop_provisioning(app, requested_by=request.user)
        return "Provisioning Status is Off: no new cycle starts; a running cycle stops within seconds (the requests in flight finish and are recorded)."
    return ""


@administrators_only
@require_http_methods(["GET", "POST"])
def provisioning_settings(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    if request.method == "GET":
        return _page(request, app, ProvisioningSettingsForm(instance=app))

    form = ProvisioningSettingsForm(request.POST, instance=app)
    if not form.is_valid():
        # The posted values were copied onto `app`; re-read it so the page shows what is saved.
        return _page(request, Application.objects.get(pk=app.pk), form)
    try:
        with transaction.atomic(), audit.changes(app, "Update provisioning settings", by=request.user, category=audit.Category.APPLICATION):
            app = form.save()
            switched = _switch_provisioning(request, app, was_enabled=form.saved_enabled, enable=form.enable_requested)
    except ProvisioningNotConfigured as exc:
        form.add_error("provisioning_status", str(exc))
        return _page(request, Application.objects.get(pk=app.pk), form)
    messages.success(request, " ".join(filter(None, ["Your provisioning settings are saved.", switched])))
    return redirect("apps:provisioning", app_id=app.id)


@administrators_only
@require_POST
def test_connection(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    form = TestConnectionForm(request.POST, app=app)
    result = None
    if form.is_valid():
        token = form.cleaned_data["secret_token"]
        draft = form.draft()
        result = check_target(draft, tenant_url=form.cleaned_data["tenant_url"], token=token or None,
                              write=form.cleaned_data["write_test"])
        # A typed-in token is never shown back, even if a target echoes it into an error body.
        result = _redacted(result, token, app, form.cleaned_data["oauth_client_secret"])
    context = {"app": app, "test_form": form, "result": result, "checklist": checklist(result.checks) if result else None}
    return render(request, "settings_page/provisioning.html#test-result", context)


def checklist(checks):
    """The checklist's lines and a count per status, for the heading ("9 passed, 2 failed")."""
    counts = {}
    for check in checks:
        counts[check.label] = counts.get(check.label, 0) + 1
    return {"checks": checks, "counts": counts, "failed_required": any(c.status == "failed" and c.required for c in checks)}


def _redacted(result, typed_token, app, typed_client_secret=""):
    secrets = [typed_token, typed_client_secret]
    for saved, read in ((app.has_secret_token, app.get_secret_token), (app.has_oauth_client_secret, app.get_oauth_client_secret)):
        if saved:
            try:
                secrets.append(read())
            except SecretUnreadable:  # nothing readable, so nothing that could leak
                pass
    return replace(
        result,
        message=redact(result.message, *secrets),
        fix=redact(result.fix, *secrets),
        details=[(name, redact(str(value), *secrets)) for name, value in result.details],
        checked_url=redact(result.checked_url, *secrets),
        warnings=tuple(redact(w, *secrets) for w in result.warnings),
        checks=tuple(
            replace(c, summary=redact(c.summary, *secrets), request=redact(c.request, *secrets),
                    response=redact(c.response, *secrets), fix=redact(c.fix, *secrets))
            for c in result.checks
        ),
    )


@administrators_only
@require_POST
def forget_target_quirks(request, app_id):
    """Forget one lesson about the target (or all): the next request tries the app's own dialect again."""
    app = get_object_or_404(Application, pk=app_id)
    kind, _, subject = request.POST.get("lesson", "").partition("|")
    if kind not in ("all", "shape", quirks.REFUSED, quirks.DROPPED) or (kind != "all" and not subject):
        messages.error(request, "Nothing was forgotten: pick a lesson in What was learned about the target, or Forget all.")
        return redirect("apps:provisioning", app_id=app.id)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=app.pk)
        locked.target_quirks = quirks.without(locked.target_quirks, None if kind == "all" else kind, subject)
        locked.save(update_fields=["target_quirks"])
    what = "everything learned about the target" if kind == "all" else f"the lesson about {subject}"
    messages.success(request, f"Forgot {what}: the next provisioning of a user or group sends it as the app's settings say, "
                              "and learns again if the target still refuses it.")
    return redirect("apps:provisioning", app_id=app.id)


urlpatterns = [
    path("apps/<int:app_id>/provisioning/forget-quirks/", forget_target_quirks, name="forget_target_quirks"),
    path("apps/<int:app_id>/provisioning/", provisioning_settings, name="provisioning"),
    path("apps/<int:app_id>/provisioning/test-connection/", test_connection, name="test_connection"),
]
