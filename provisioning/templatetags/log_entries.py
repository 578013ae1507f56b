"""Template filters of the log entry panel: fixes whose page names become links, request bodies for reading."""

import re
from urllib.parse import unquote_plus

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from provisioning.scim.traffic import pretty_body

register = template.Library()

# Places the fix texts name (engine/, scim/errors.py), longest first so "Admin Credentials > Tenant URL" wins over
# "Tenant URL": (pattern, page, anchor). Pages: "settings" (the Provisioning page), "mappings" (the entry's object
# mapping), "scoping", "assignments", "overview".
PLACES = [
    (r"Admin Credentials > Tenant URL|Tenant URL", "settings", "id_tenant_url"),
    (r"Admin Credentials > Secret Token|Secret Token", "settings", "id_secret_token"),
    (r"'?Entra-compatible requests'?", "settings", "id_entra_compatible"),
    (r"Provisioning > Settings > Advanced|Concurrent requests", "settings", "advanced"),
    (r"Set Scope to Sync all(?: users and groups)?|Sync all users and groups", "settings", "id_scope"),
    (r"Run Test Connection|run Test Connection|Test Connection", "settings", "test-result"),
    (r"the Provisioning page", "settings", ""),
    (r"Target Object Actions", "mappings", "settings-form"),
    (r"Mappings > Scoping|the scoping filter(?: '[^']+')?|Edit the filter|scoping filters?", "scoping", ""),
    (r"(?:under |in the )?Mappings|(?:that attribute's|the attribute's|the|its|their) mappings?(?: named in the detail)?",
     "mappings", ""),
    (r"Assign users and groups|Users and groups|assign the (?:user|group)(?: to the application)?", "assignments", ""),
    (r"Restart provisioning|restart provisioning", "overview", ""),
]
_PATTERN = re.compile("|".join(f"(?P<p{n}>{pattern})" for n, (pattern, _, _) in enumerate(PLACES)))


def _url(page, app, object_type):
    object_type = object_type if object_type in ("user", "group") else "user"
    if page == "settings":
        return reverse("apps:provisioning", args=[app.pk])
    if page == "mappings":
        return reverse("apps:mappings", args=[app.pk, object_type])
    if page == "scoping":
        return reverse("apps:scoping", args=[app.pk, object_type])
    if page == "assignments":
        return reverse("apps:users_groups", args=[app.pk])
    return reverse("apps:overview", args=[app.pk])


def link_places(text, app, object_type="user"):
    """The text, escaped, with every portal page it names linked to that page (and field)."""
    if not text:
        return ""
    parts, position = [], 0
    for match in _PATTERN.finditer(text):
        number = int(match.lastgroup[1:])
        _, page, anchor = PLACES[number]
        url = _url(page, app, object_type) + (f"#{anchor}" if anchor else "")
        parts.append(escape(text[position:match.start()]))
        parts.append(f'<a href="{escape(url)}" class="fix-link">{escape(match.group(0))}</a>')
        position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))


@register.simple_tag
def linked_fix(text, app, object_type="user"):
    return link_places(text, app, object_type)


@register.filter
def readable_body(text):
    return pretty_body(text or "")


@register.filter
def readable_url(url):
    """A request URL with its query decoded, so a filter reads as it was written: filter=userName eq "…"."""
    return unquote_plus(url) if url and "?" in url else (url or "")
