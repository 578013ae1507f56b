"""Read a SCIM target back and compare it with the directory, object by object (for the cycle tests).

The expectation is what Entra's default mappings give for an app that syncs everyone: every enabled,
not deleted directory user exists exactly once (by userName) with its attributes and its manager's
target id, and every group exists once with exactly its members.
"""

import httpx

from provisioning.models import DirectoryGroup, DirectoryUser

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def read_all(base_url, token, resource):
    found, start = [], 1
    while True:
        page = httpx.get(f"{base_url}/{resource}", params={"startIndex": start, "count": 1000},
                         headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
        resources = page.get("Resources") or []
        found += resources
        start += len(resources)
        if not resources or start > page.get("totalResults", 0):
            return found


def differences(app, token, base_url=None):
    """A list of what differs between the target and the directory (empty when they agree).

    base_url: where to read the target (the target itself when the app goes through a fault proxy)."""
    base_url = base_url or app.tenant_url
    problems = []
    users = read_all(base_url, token, "Users")
    by_name = {}
    for user in users:
        by_name.setdefault(user["userName"].lower(), []).append(user)
    problems += [f"{name}: {len(copies)} accounts in the target" for name, copies in by_name.items() if len(copies) > 1]
    directory = {u.user_principal_name.lower(): u for u in DirectoryUser.objects.select_related("manager")}
    wanted = {name for name, u in directory.items() if u.account_enabled and not u.deleted_at}
    present = {name for name, copies in by_name.items() if copies[0].get("active", True) is not False}
    problems += [f"{name}: missing in the target" for name in sorted(wanted - set(by_name))]
    problems += [f"{name}: active in the target but not in scope" for name in sorted(present - wanted)]
    ids = {name: copies[0]["id"] for name, copies in by_name.items()}
    for name in sorted(wanted & set(by_name)):
        source, target = directory[name], by_name[name][0]
        if target.get("displayName") != source.display_name:
            problems.append(f"{name}: displayName {target.get('displayName')!r} ≠ {source.display_name!r}")
        manager = (target.get(ENTERPRISE) or {}).get("manager", {}).get("value")
        expected = ids.get(source.manager.user_principal_name.lower()) if source.manager else None
        if manager != expected:
            problems.append(f"{name}: manager {manager!r} ≠ {expected!r}")
    groups = read_all(base_url, token, "Groups")
    by_group = {}
    for group in groups:
        by_group.setdefault(group["displayName"], []).append(group)
    for group in DirectoryGroup.objects.filter(deleted_at__isnull=True).prefetch_related("members"):
        copies = by_group.pop(group.display_name, [])
        if len(copies) != 1:
            problems.append(f"group {group.display_name}: {len(copies)} in the target")
            continue
        members = sorted(m["value"] for m in copies[0].get("members") or [])
        expected = sorted(ids[m.user_principal_name.lower()] for m in group.members.all() if m.user_principal_name.lower() in wanted)
        if members != expected:
            problems.append(f"group {group.display_name}: {len(members)} members ≠ {len(expected)} expected")
    problems += [f"group {name}: in the target but not in the directory" for name in by_group]
    return problems
