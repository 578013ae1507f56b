"""Every route of the portal, for every role, with valid and hostile inputs: never a 500.

A crawl over the URLconf rather than a list, so a page added later is covered without anyone
remembering to add it here.
"""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE_QUERY = {
    "q": "\x00<script>alert(1)</script>' OR 1=1 --",
    "status": "bogus",
    "action": "explode",
    "date": "not-a-date",
    "start": "2026-13-45",
    "end": "yesterday",
    "cycle": "not-a-uuid",
    "run": "-1",
    "change": "zzz",
    "page": "-1",
    "after": "garbage",
    "before": "99999999999999999999",
    "pick": "user:999999",
    "subject": "group:abc",
    "members": ["x", "999999"],
    "expression": 'Join(".", [givenName] [surname]' + ")" * 50,
    "user": "999999",
    "operator": "NO SUCH OP",
    "attribute": "manager",
}
HOSTILE_POST = {
    **HOSTILE_QUERY,
    "provisioning_mode": "sideways",
    "tenant_url": "javascript:alert(1)",
    "secret_token": " ",
    "notification_email": "not-an-email",
    "scope": "everyone",
    "provisioning_enabled": "maybe",
    "users": ["abc", "999999"],
    "groups": ["-5"],
    "assignment": "nope",
    "mapping_type": "telepathy",
    "target_attribute": "emails[type eq ",
    "matching_precedence": "-3",
    "apply_on": "sometimes",
    "name": "x" * 5000,
    "title": "",
    "file": "",
    "document": "{not json",
    "clauses-TOTAL_FORMS": "abc",
}

# Issue 9's inputs: a runaway regex, a metadata Tenant URL with a password, a masked token with a line break,
# a selection of more than 1,000 ids, and a long value for the regex to chew on.
HOSTILE_POST_MORE = {
    "tenant_url": "http://admin:pw@169.254.169.254/latest/meta-data/",
    "secret_token": "Bearer ********\n",
    "provisioning_mode": "automatic",
    "attribute": "department",
    "operator": "REGEX MATCH",
    "value": "(a+)+$",
    "filter-title": "Runaway",
    "clause-TOTAL_FORMS": "1",
    "clause-INITIAL_FORMS": "0",
    "clause-0-attribute": "department",
    "clause-0-operator": "REGEX MATCH",
    "clause-0-value": "(a+)+$",
    "mapping_type": "expression",
    "expression": 'Replace([department], , "(a+)+$", , "x", , )',
    "target_attribute": "title",
    "users": [str(n) for n in range(1, 1502)],
    "q": "a" * 5000 + "b",
}


def app_routes():
    """(name, pattern kwargs) for every route in the apps namespace."""
    resolver = get_resolver()
    routes = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "apps" and pattern.name:
                routes.append((pattern.name, list(pattern.pattern.converters)))

    walk(resolver.url_patterns, None)
    return routes


ROUTES = app_routes()


@pytest.fixture
def world():
    app = factories.ApplicationFactory()
    user = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=app, user=user)
    cycle = factories.ProvisioningCycleFactory(application=app)
    log = factories.ProvisioningLogFactory(application=app, cycle=cycle, status="failure", steps=[
        {"key": "import", "name": "Import user", "status": "success", "description": "x", "sections": []}])
    run = factories.OnDemandRunFactory(application=app)
    hook = factories.WebhookEndpointFactory(application=app)
    dry_run = factories.DryRunEntryFactory(dry_run__application=app, dry_run__state="completed").dry_run
    group = factories.DirectoryGroupFactory(members=[user])
    user_mapping = app.object_mappings.get(object_type="user")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=user_mapping)
    factories.ScopingClauseFactory(scoping_filter=scoping_filter)
    return {
        "app_id": app.pk,
        "log_id": log.pk,
        "run_id": run.pk,
        "dry_run_id": dry_run.pk,
        "endpoint_id": hook.pk,
        "object_type": "user",
        "mapping_id": user_mapping.attribute_mappings.first().pk,
        "filter_id": scoping_filter.pk,
        "token_id": factories.ApiTokenFactory().pk,
        "user_id": user.pk,
        "group_id": group.pk,
    }


def urls_for(name, params, world):
    real = reverse(f"apps:{name}", kwargs={p: world[p] for p in params})
    urls = [real]
    if params:
        wrong = {p: ("bogus" if p == "object_type" else 987654) for p in params}
        urls.append(reverse(f"apps:{name}", kwargs=wrong))
    return urls


@pytest.fixture(params=["administrator", "helpdesk", "anonymous"])
def client_as(request, admin_user, helpdesk_user):
    client = Client(raise_request_exception=False)
    if request.param == "administrator":
        client.force_login(admin_user)
    elif request.param == "helpdesk":
        client.force_login(helpdesk_user)
    return client


@pytest.mark.parametrize("name, params", ROUTES, ids=[name for name, _ in ROUTES])
def test_no_route_answers_500(client_as, world, name, params):
    assert ROUTES, "the crawl found no routes"
    for url in urls_for(name, params, world):
        for headers in ({}, {"HX-Request": "true"}):
            responses = [
                client_as.get(url, headers=headers),
                client_as.get(url, HOSTILE_QUERY, headers=headers),
                client_as.post(url, HOSTILE_POST, headers=headers),
                client_as.post(url, HOSTILE_POST_MORE, headers=headers),
                client_as.post(url, {}, headers=headers),
            ]
            for response in responses:
                assert response.status_code < 500, f"{response.request['REQUEST_METHOD']} {url} {headers} → {response.status_code}"
