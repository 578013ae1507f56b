"""The pages under the Content-Security-Policy in real Chromium: no violation, and the scripted parts still work.

Every behaviour that was an inline script or handler lives in static/js/portal.js now; this clicks through
them and fails on any CSP report or script error in the console. Screenshots under test-artifacts/screenshots/.
"""

import re

import pytest
from django.urls import reverse

from provisioning import audit
from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401  (open_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def test_pages_work_under_the_csp_with_no_violation(live_server, open_page):  # noqa: F811
    admin = factories.AdministratorFactory(username="csp-admin")
    app = factories.ApplicationFactory(name="CSP check")
    factories.DirectoryUserFactory()
    audit.record("Update provisioning settings", by=admin, application=app, category=audit.Category.APPLICATION,
                 changes=[{"name": "Tenant URL", "old": "https://old.example.com/scim/v2", "new": "https://new.example.com/scim/v2"},
                          {"name": "Secret Token", "old": "set", "new": "changed"}])
    page = open_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} {m.location.get('url')}")
            if (m.type == "error" or "Content Security Policy" in m.text)
            # Django's admin pages name no icon, so Chromium asks for /favicon.ico: a 404, not a CSP matter.
            and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.add_init_script(WATCH)

    def visit(url, name):
        response = page.goto(f"{live_server.url}{url}")
        assert response.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self';")
        page.wait_for_load_state("networkidle")
        shot(page, f"csp-{name}")
        problems.extend(page.evaluate("window.__violations"))

    visit("/login/", "login")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    for name in ("overview", "provisioning", "users_groups", "on_demand", "logs"):
        visit(reverse(f"apps:{name}", args=[app.pk]), name)

    # Logs: "Custom time interval" shows Start and End (portal.js, bound before htmx sees the change).
    visit(reverse("apps:logs", args=[app.pk]), "logs")
    assert page.locator("#custom-range").is_hidden()
    page.select_option("#id_date", "custom")
    page.locator("#custom-range").wait_for(state="visible")
    shot(page, "csp-logs-custom-range")

    # Mappings: the editor dialog opens when its body arrives, and its close button closes it.
    visit(reverse("apps:mappings", args=[app.pk, "user"]), "mappings")
    page.get_by_role("button", name="+ Add New Mapping").click()
    dialog = page.locator("#mapping-dialog")
    dialog.locator("form.mapping-form").wait_for()
    assert dialog.evaluate("d => d.open")
    shot(page, "csp-mapping-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    page.wait_for_function("() => !document.getElementById('mapping-dialog').open")

    # Restore default mappings asks first; dismissing the question keeps the page.
    page.once("dialog", lambda question: question.dismiss())
    page.get_by_role("button", name=re.compile("Restore default mappings")).click()
    assert page.url.endswith(reverse("apps:mappings", args=[app.pk, "user"]))

    visit(reverse("apps:scoping", args=[app.pk, "user"]), "scoping")
    visit(reverse("apps:audit"), "audit-logs")
    page.select_option("#id_category", "application")
    page.wait_for_url(re.compile(r"category=application"))
    assert page.get_by_text("Update provisioning settings").is_visible()
    visit("/admin/", "django-admin")
    visit("/admin/provisioning/directoryuser/", "django-admin-users")
    problems.extend(page.evaluate("window.__violations"))
    assert problems == []
