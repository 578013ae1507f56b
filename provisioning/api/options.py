"""OData system query options: each operation accepts the ones it declares ($filter, $top, $skiptoken) plus
$select on every GET; any other ($orderby, $expand, $count, $search, …) is a 400 that names it, never ignored —
a script that asked for an order or a count must not get something else without knowing."""

import json
from functools import wraps

from django.http import JsonResponse

from provisioning.api import errors

_declared = {}


def _routes(api):
    if not _declared:
        schema = api.get_openapi_schema(path_prefix="")
        for path, methods in schema["paths"].items():
            route = path.lstrip("/").replace("{", "<").replace("}", ">")
            for method, operation in methods.items():
                names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
                _declared.setdefault(route, {})[method.upper()] = {n for n in names if n.startswith("$")}
    return _declared


def check(api, request):
    """ApiError 400 when the request carries a $option its operation does not support."""
    asked = [name for name in request.GET if name.startswith("$")]
    if not asked or request.resolver_match is None:
        return
    route = request.resolver_match.route.removeprefix("api/v1/")
    supported = set(_routes(api).get(route, {}).get(request.method, set()))
    if request.method == "GET":
        supported.add("$select")
    unknown = [name for name in asked if name not in supported]
    if unknown:
        raise errors.ApiError(400, f"{request.method} {request.path} does not support {', '.join(unknown)}: the query "
                                   f"options it supports are {', '.join(sorted(supported)) or 'none'}.")


def checked(api):
    """An operation decorator (ninja runs it after authentication and validation) that calls check()."""

    def decorator(operation):
        @wraps(operation)
        def wrapper(request, *args, **kwargs):
            check(api, request)
            return operation(request, *args, **kwargs)

        return wrapper

    return decorator


def apply_select(request, response):
    """$select=a,b: only those properties (and id, @odata.*) of the object or of each object in value."""
    text = request.GET.get("$select")
    if text is None or request.method != "GET" or response.status_code != 200:
        return response
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return _bad(request, "$select is empty: list properties, e.g. $select=id,displayName.")
    data = json.loads(response.content)
    objects = data["value"] if isinstance(data.get("value"), list) else [data]
    present = set().union(*(o.keys() for o in objects)) if objects else set(names)
    missing = [name for name in names if name not in present]
    if missing:
        return _bad(request, f"$select names {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not a "
                             f"property here: choose from {', '.join(sorted(k for k in present if not k.startswith('@')))}.")
    keep = set(names) | {"id"}
    for obj in objects:
        for key in list(obj):
            if key not in keep and not key.startswith("@odata"):
                del obj[key]
    selected = JsonResponse(data, status=200)
    return selected


def _bad(request, message):
    return JsonResponse(errors.body(request, 400, "BadRequest", message), status=400)
