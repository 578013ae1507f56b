"""Proof that bench/cycle_fixture.py works: generate → start_target → bare_client → verify_target.

For (a) 1,000 users / 50 groups and (b) 10,000 users / 500 groups (~28,000 memberships), with one request
per object and with /Bulk, on a fresh tenant each run; prints seconds, requests, requests/s, checks that the
target counted the same requests, that the verifier finds nothing on a correct target, and (once, small)
that it does find what a tampered target gets wrong.

    .venv/bin/python bench/cycle_fixture_check.py                 # (a) and (b), each mode twice
    .venv/bin/python bench/cycle_fixture_check.py --small         # (a) only
    .venv/bin/python bench/cycle_fixture_check.py --sweep         # /Bulk batch sizes 50…1000 on (b)
"""

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle_fixture import (  # noqa: E402
    DEFAULT_BULK_BATCH, ENTERPRISE, PATCH_OP, bare_client, generate_directory, new_tenant, start_target, verify_target,
)


def run(target, directory, *, bulk, concurrency, batch_size=DEFAULT_BULK_BATCH, label=""):
    tenant = new_tenant()
    base_url = target.base_url(tenant)
    report = bare_client(directory, base_url, target.token, concurrency=concurrency, bulk=bulk, batch_size=batch_size)
    counted = target.stats(tenant)["requests"]
    started = time.perf_counter()
    differences = verify_target(directory, base_url, target.token)
    verify_seconds = time.perf_counter() - started
    ok = not differences and counted == report.requests
    print(f"  {label:<28} {report.seconds:7.2f} s {report.requests:7d} requests {report.requests_per_second:7.0f} req/s"
          f"   users {report.phases['users']:.2f} s, groups {report.phases['groups']:.2f} s"
          f"   verify {verify_seconds:.2f} s   {'OK' if ok else 'WRONG'}   {dict(sorted(report.by_endpoint.items()))}",
          flush=True)
    if counted != report.requests:
        print(f"    the target counted {counted} requests, the client {report.requests}")
    for line in differences:
        print("    " + line)
    return report, base_url, ok


def tamper_check(target, directory, base_url):
    """Break a provisioned target in five ways; the verifier must name each."""
    users, groups = directory["users"], directory["groups"]
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {target.token}"})

    def find(kind, attribute, value):
        return client.get(f"/{kind}", params={"filter": f'{attribute} eq "{value}"'}).json()["Resources"][0]["id"]

    def patch(path, *operations):
        client.patch(path, json={"schemas": [PATCH_OP], "Operations": list(operations)}).raise_for_status()

    def create(kind, body):
        client.post(f"/{kind}", json=body).raise_for_status()

    a = users[0]
    b = next(u for u in users if u.get("manager") and u is not a and u["manager"] != a["objectId"])
    a_id, b_id = find("Users", "userName", a["userPrincipalName"]), find("Users", "userName", b["userPrincipalName"])
    patch(f"/Users/{a_id}", {"op": "replace", "path": "title", "value": "Intern"})
    patch(f"/Users/{b_id}", {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": a_id}})
    group, twin = [g for g in groups if len(g["members"]) > 3][:2]
    group_id = find("Groups", "displayName", group["displayName"])
    member = client.get(f"/Groups/{group_id}").json()["members"][0]["value"]
    patch(f"/Groups/{group_id}", {"op": "remove", "path": f'members[value eq "{member}"]'})
    create("Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "stray@contoso.example"})
    create("Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": twin["displayName"]})
    differences = verify_target(directory, base_url, target.token)
    expected = [f"user {a['userPrincipalName']}: title is 'Intern'", f"user {b['userPrincipalName']}: manager is",
                f"group {group['displayName']}: 1 members missing", "extra user on the target: 'stray@contoso.example'",
                f"group {twin['displayName']}: 2 copies on the target"]
    missing = [e for e in expected if not any(d.startswith(e) for d in differences)]
    print(f"  tampered target: {len(differences)} differences found{'' if not missing else ', MISSED ' + repr(missing)}")
    for line in differences:
        print("    " + line)
    return not missing and len(differences) == len(expected)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="only 1,000 users / 50 groups")
    parser.add_argument("--runs", type=int, default=2, help="runs per mode at full scale (default 2)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sweep", action="store_true", help="time /Bulk batch sizes on the full directory")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    args = parser.parse_args(argv)
    all_ok = True

    if args.sweep:  # rounds interleave the sizes, so that a noisy minute does not land on one size
        directory = generate_directory()
        sizes = [int(s) for s in args.sizes.split(",")]
        seconds = {size: [] for size in sizes}
        for i in range(args.runs):
            for size in sizes:
                target = start_target()  # a fresh server per run: no tenant's leftovers in its memory
                try:
                    report, _, ok = run(target, directory, bulk=True, concurrency=args.concurrency, batch_size=size,
                                        label=f"/Bulk ×{size} round {i + 1}")
                    all_ok &= ok
                    seconds[size].append(report.seconds)
                finally:
                    target.stop()
        for size, times in seconds.items():
            print(f"  /Bulk ×{size:<5} best {min(times):6.2f} s   median {sorted(times)[len(times) // 2]:6.2f} s")
        return 0 if all_ok else 1

    started = time.perf_counter()
    small = generate_directory(users=1_000, groups=50, memberships=2_800)
    print(f"(a) 1,000 users, 50 groups, {sum(len(g['members']) for g in small['groups'])} memberships "
          f"(generated in {time.perf_counter() - started:.2f} s)")
    target = start_target()
    try:
        for bulk in (False, True):
            _, base_url, ok = run(target, small, bulk=bulk, concurrency=args.concurrency,
                                  label="/Bulk" if bulk else "one request per object")
            all_ok &= ok
        all_ok &= tamper_check(target, small, base_url)
    finally:
        target.stop()
    no_bulk = start_target(no_bulk=True)
    try:
        _, _, ok = run(no_bulk, small, bulk=False, concurrency=args.concurrency, label="--no-bulk target, per object")
        all_ok &= ok
    finally:
        no_bulk.stop()

    if not args.small:
        started = time.perf_counter()
        full = generate_directory()
        print(f"(b) 10,000 users, 500 groups, {sum(len(g['members']) for g in full['groups'])} memberships "
              f"(generated in {time.perf_counter() - started:.2f} s)")
        for bulk in (False, True):
            for i in range(args.runs):
                target = start_target()
                try:
                    _, _, ok = run(target, full, bulk=bulk, concurrency=args.concurrency,
                                   label=f"{'/Bulk ×' + str(DEFAULT_BULK_BATCH) if bulk else 'one request per object'} run {i + 1}")
                    all_ok &= ok
                finally:
                    target.stop()
    print("all correct" if all_ok else "SOMETHING IS WRONG")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
