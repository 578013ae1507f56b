"""An initial cycle lists the target once (GET /Users, /Groups, paged) and matches locally.

One filter query per object costs the target a search each (scim2-server: 80 ms at 3,000 users); a
listing costs a page per few hundred objects. Each listed object is stored under its matching keys
(engine/keys.py), which is how chunks find it. A target that cannot list (an error, a page that ignores
startIndex) is matched by filter queries instead.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from provisioning.engine import calls, keys
from provisioning.engine.pacing import Pacer
from provisioning.engine.source import GROUP, USER
from provisioning.models import ListedTargetObject
from provisioning.scim import ScimError

logger = logging.getLogger(__name__)

RESOURCES = {USER: "Users", GROUP: "Groups"}


class CannotList(Exception):
    """The target's answers to a paged listing cannot be trusted; str() says why."""


def list_target(cycle, ctx):
    """Store the target's users and groups for this cycle; returns "" or why the target was not listed.

    Pages go through calls.run_now with the app's pacing: a 429 or 5xx is retried as any request is, and a
    Retry-After holds the chunks that come after."""
    ListedTargetObject.objects.filter(cycle=cycle).delete()
    features = ctx.target_features()
    count = max(10, min(features.filter_max_results or 200, 500))
    pacer = Pacer(cycle.application_id)
    try:
        for object_type, resource in RESOURCES.items():
            mapping = ctx.object_mappings.get(object_type)
            if mapping is None or not mapping.enabled:
                continue
            paths = [m.target_attribute for m in ctx.matching_mappings(object_type)]
            excluded = ["members"] if object_type == GROUP else None
            _list(cycle, ctx, pacer, object_type, resource, paths, count, excluded)
    except (ScimError, CannotList) as exc:
        ListedTargetObject.objects.filter(cycle=cycle).delete()
        logger.info("cycle %s: the target could not be listed, matching by filter instead: %s", cycle.cycle_id, exc)
        return str(exc)
    finally:
        pacer.sync()
    return ""


def _page(client, pacer, resource, start, count, excluded):
    def call():
        return (yield calls.Call("list_page", (resource, start, count), {"excluded_attributes": excluded}))

    return calls.run_now(call(), client, pacer)


def _list(cycle, ctx, pacer, object_type, resource, paths, count, excluded):
    client = ctx.client
    first, total = _page(client, pacer, resource, 1, count, excluded)
    seen = set()
    _store(cycle, object_type, first, paths, seen)
    if total is None:
        if len(first) >= count:
            raise CannotList(f"GET /{resource} answered without totalResults, so its pages cannot be counted")
        return
    if len(first) >= total:
        return
    page = len(first)
    if page == 0:
        raise CannotList(f"GET /{resource} said totalResults {total} but returned no resources")
    starts = list(range(1 + page, total + 1, page))
    with ThreadPoolExecutor(max(1, min(ctx.application.max_concurrent_requests, 8))) as pool:
        for resources, _ in pool.map(lambda start: _page(client, pacer, resource, start, page, excluded), starts):
            _store(cycle, object_type, resources, paths, seen)


def _store(cycle, object_type, resources, paths, seen):
    rows = []
    for item in resources:
        target_id = item.get("id") if isinstance(item, dict) else None
        if not target_id:
            continue
        if target_id in seen:
            raise CannotList(f"the target returned {target_id} on two pages: it does not page with startIndex")
        seen.add(target_id)
        for key in keys.keys_of_resource(item, paths):
            rows.append(ListedTargetObject(cycle=cycle, object_type=object_type, match_key=key, target_id=str(target_id), resource=item))
    ListedTargetObject.objects.bulk_create(rows, batch_size=1000)
