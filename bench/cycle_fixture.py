"""The engine-independent half of the cycle benchmark: a directory, a SCIM target, the physical limit, a verifier.

    generate_directory(users=10_000, groups=500, memberships=28_000, manager_depth=5, seed=1) -> dict
    write_directory(path, **kw)
    start_target(no_bulk=False) -> Target          scripts/scim_target.py (scim2-server on waitress)
    bare_client(directory, base_url, token, *, concurrency=8, bulk=False) -> Report
    verify_target(directory, base_url, token) -> list[str]   (empty = the target holds exactly the directory)

The directory is in the JSON shape the portal imports, with Graph attribute names:
{"users": [{objectId, userPrincipalName, displayName, givenName, surname, mail, mailNickname, jobTitle,
department, employeeId, accountEnabled, manager?}], "groups": [{objectId, displayName, description,
mailNickname, members: [user objectIds]}]}. Empty attributes are left out of a user, as Graph does.

bare_client is "the physical limit": the fewest requests that give the target the state the engine's
default (Entra) mappings give it, sent as fast as one shared keep-alive httpx.Client and `concurrency`
threads can: users managers-first (level by level, one POST each with the manager's target id), then
groups (one POST with the first 500 members, PATCH adds of at most 500 for the rest); with bulk=True the
same creates go through POST /Bulk. It does no discovery (no /ServiceProviderConfig, no lookups): the
target starts empty. expected_user() / expected_group() are the bodies, and what verify_target compares.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import unicodedata
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TARGET_SCRIPT = ROOT / "scripts" / "scim_target.py"

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_JSON = "application/scim+json"

MEMBERS_PER_REQUEST = 500  # members in a group POST, values in one PATCH add (Entra's and the engine's cap)
# /Bulk batch size, measured on scim2-server 0.8.3 (10,000 users + 500 groups, concurrency 8, 2 cores;
# cycle_fixture_check.py --sweep): 50 → 18.3-19.6 s, 100 → 17.9-19.8 s, 200 → 17.4-18.8 s, 500 → 17.4-20.0 s,
# 1000 → 17.1-18.0 s. All within the machine's noise: the server spends ~1.4 ms of CPU per operation whatever
# the batch, so only the per-request overhead shrinks. 1000 (its maxOperations) is fastest by a hair and sends
# the fewest requests (17 against 57 for 200), so it is the default.
DEFAULT_BULK_BATCH = 1000
BULK_MAX_OPERATIONS = 1000  # scim2-server's ServiceProviderConfig
BULK_MAX_PAYLOAD = 1_048_576
PAGE_SIZE = 1000  # scim2-server's filter maxResults; it caps a larger count silently


# --- the directory -----------------------------------------------------------------------------------

DOMAIN = "contoso.example"

FIRST_NAMES = [
    "Jürgen", "Zoë", "Søren", "José", "Renée", "Björn", "François", "Øystein", "Anaïs", "Chloé", "Mikaël",
    "Ingrid", "Åsa", "Jörg", "Léa", "Hélène", "Sébastien", "Nuño", "Maëlle", "Göran",
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Paul", "Ashley", "Steven",
    "Emily", "Andrew", "Donna", "Kenneth", "Michelle", "Joshua", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Priya", "Wei", "Aiko", "Olu", "Fatima", "Mateo", "Ana", "Lukas", "Emma",
]
LAST_NAMES = [
    "Müller", "Sørensen", "Lefèvre", "Jørgensen", "Gómez", "Dupré", "Schröder", "Håkansson", "Núñez",
    "Øberg", "Brontë", "Coté", "Wöhler", "Fàbregas", "Ibáñez", "O'Brien", "García-López",
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson",
    "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards",
    "Collins", "Stewart", "Morris", "Nguyen", "Patel", "Kim", "Chen", "Tanaka", "Okafor", "Rossi", "Novak",
]
DEPARTMENTS = [
    "Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Legal", "Customer Support",
    "Operations", "Product Management", "Research", "IT", "Procurement", "Facilities", "Security",
    "Quality Assurance", "Data Science", "Design", "Communications", "Business Development", "Logistics",
]
EXECUTIVE = "Executive Office"
LEVEL_TITLES = ["Chief Executive Officer", "Vice President", "Director", "Senior Manager", "Manager", "Team Lead"]
STAFF_TITLES = {
    "Engineering": ["Software Engineer", "Senior Software Engineer", "Staff Engineer", "DevOps Engineer"],
    "Sales": ["Account Executive", "Sales Representative", "Sales Engineer"],
    "Marketing": ["Marketing Specialist", "Content Strategist", "SEO Analyst"],
    "Finance": ["Accountant", "Financial Analyst", "Controller"],
    "Human Resources": ["HR Generalist", "Recruiter", "HR Business Partner"],
    "Legal": ["Counsel", "Paralegal", "Compliance Officer"],
    "Customer Support": ["Support Engineer", "Customer Success Manager", "Support Agent"],
    "Operations": ["Operations Analyst", "Program Manager"],
    "Product Management": ["Product Manager", "Product Owner"],
    "Research": ["Research Scientist", "Research Engineer"],
    "IT": ["Systems Administrator", "IT Support Specialist", "Network Engineer"],
    "Procurement": ["Buyer", "Procurement Specialist"],
    "Facilities": ["Facilities Coordinator", "Office Manager"],
    "Security": ["Security Engineer", "Security Analyst"],
    "Quality Assurance": ["QA Engineer", "Test Automation Engineer"],
    "Data Science": ["Data Scientist", "Data Engineer", "Analytics Engineer"],
    "Design": ["Product Designer", "UX Researcher"],
    "Communications": ["Communications Specialist", "Editor"],
    "Business Development": ["Partner Manager", "Business Development Representative"],
    "Logistics": ["Logistics Coordinator", "Supply Chain Analyst"],
}
GROUP_TOPICS = [
    "Team", "Leads", "Project Phoenix", "Project Atlas", "On-call", "Book Club", "Hiring Panel", "Champions",
    "Contractors", "Interns", "Budget Owners", "Release Train", "Guild", "Mentors", "Offsite 2026",
    "Newsletter", "Security Reviewers", "Office Hours", "Tiger Team", "Alumni",
]
GROUP_PURPOSES = ["access to shared drives", "distribution list", "license assignment", "app access",
                  "security group", "Teams channel owners", "VPN access", "self-service group"]
SITES = ["Zürich", "Malmö", "Genève", "København", "Montréal", "Köln", "São Paulo", "Tromsø", "Seattle",
         "London", "Dublin", "Singapore", "Austin", "Bengaluru", "Tokyo", "Nairobi"]
_ASCII_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d", "ł": "l", "Ł": "L"})


def ascii_slug(text: str) -> str:
    """Jürgen → jurgen, Sørensen → sorensen, O'Brien → obrien, García-López → garcia-lopez."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    slug = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "" if c == "'" else "-" for c in folded)
    return "-".join(part for part in slug.split("-") if part)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _level_sizes(users: int, depth: int) -> list[int]:
    """People per level, CEO (1) at level 0: a constant span of control r with 1 + r + … + r^depth ≈ users,
    the bottom level takes the rest (most people), every level at least one person."""
    if users < depth + 1:
        raise ValueError(f"{users} users cannot fill a manager tree {depth} levels deep (need {depth + 1}).")
    if depth == 0:
        return [users]
    low, high = 1.0, float(users)
    for _ in range(100):  # bisection for r
        r = (low + high) / 2
        if sum(r**k for k in range(depth + 1)) > users:
            high = r
        else:
            low = r
    sizes = [1] + [max(1, round(low**k)) for k in range(1, depth)]
    rest = users - sum(sizes)
    if rest < 1:  # tiny directories: one person per level, the rest at the bottom
        sizes = [1] * depth
        rest = users - depth
    return [*sizes, rest]


def _group_sizes(rng: random.Random, groups: int, memberships: int, users: int) -> list[int]:
    """Skewed group sizes summing to `memberships`: four big groups (6.5%, 3%, 2.2%, 1.9% of the memberships:
    1,820 / 840 / 616 / 532 at the default scale), a few empty ones, a long tail of small groups."""
    if groups == 0:
        if memberships:
            raise ValueError("memberships need groups.")
        return []
    if memberships > groups * users:
        raise ValueError(f"{memberships} memberships do not fit in {groups} groups of at most {users} users.")
    empty = min(groups - 1, max(1, round(groups * 0.016))) if groups >= 3 else 0
    big = [min(users, round(memberships * share)) for share in (0.065, 0.03, 0.022, 0.019)[: max(0, groups - empty - 1)]]
    tail_count = groups - empty - len(big)
    rest = memberships - sum(big)
    cap = max(1, min(users, 480))
    weights = [rng.lognormvariate(0, 1.25) for _ in range(tail_count)]
    sizes = [1.0] * tail_count
    for _ in range(60):  # scale the weights so that the capped sizes sum to `rest`
        total = sum(weights) or 1.0
        sizes = [min(cap, max(1.0, rest * w / total)) for w in weights]
        if abs(sum(sizes) - rest) < 0.5:
            break
        weights = [w * (rest / sum(sizes)) if s < cap else w for w, s in zip(weights, sizes)]
    tail = [min(cap, int(s)) for s in sizes]
    limit = cap if rest <= tail_count * cap else users
    floor = 1 if rest >= tail_count else 0
    order = sorted(range(tail_count), key=lambda i: weights[i], reverse=True)
    diff, stuck, i = rest - sum(tail), 0, 0
    while diff > 0 and stuck < tail_count:  # round up the heaviest groups first
        j = order[i % tail_count]
        if tail[j] < limit:
            tail[j] += 1
            diff, stuck = diff - 1, 0
        else:
            stuck += 1
        i += 1
    while diff < 0:  # trim the largest
        j = max(range(tail_count), key=lambda k: tail[k])
        if tail[j] <= floor:
            break
        tail[j] -= 1
        diff += 1
    sizes = [*big, *tail, *[0] * empty]
    for j in range(groups):  # tiny directories: whatever did not fit goes wherever there is room
        if sum(sizes) >= memberships:
            break
        sizes[j] += min(users - sizes[j], memberships - sum(sizes))
    if sum(sizes) != memberships:
        raise ValueError(f"cannot lay out {memberships} memberships in {groups} groups of {users} users.")
    return sizes


def generate_directory(users: int = 10_000, groups: int = 500, memberships: int = 28_000,
                       manager_depth: int = 5, seed: int = 1) -> dict:
    """A deterministic company directory ({"users": [...], "groups": [...]}, Graph attribute names).

    Users form one manager tree exactly `manager_depth` levels below a CEO (level 0); every manager has at
    least one report and most people are at the bottom. Departments are set at the first level with at
    least 20 people and inherited below (the levels above are the Executive Office). About 2% of the
    people have no jobTitle and 1% no employeeId (left out, as Graph leaves out empty attributes); names
    hold ü/é/ø and friends, userPrincipalName/mail/mailNickname are ASCII. The users list is shuffled
    (managers are not first). Groups have unique displayNames (some with unicode), skewed sizes.
    """
    rng = random.Random(seed)
    sizes = _level_sizes(users, manager_depth)

    people = []
    for index in range(users):
        given, surname = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        nickname = f"{ascii_slug(given)}.{ascii_slug(surname)}.{index + 1}"
        people.append({
            "objectId": _uuid(rng),
            "userPrincipalName": f"{nickname}@{DOMAIN}",
            "displayName": f"{given} {surname}",
            "givenName": given,
            "surname": surname,
            "mail": f"{nickname}@{DOMAIN}",
            "mailNickname": nickname,
            "employeeId": f"E{100000 + index:06d}",
            "accountEnabled": True,
        })

    # The tree: people[start_k : start_k + sizes[k]] are level k.
    levels, start = [], 0
    for size in sizes:
        levels.append(people[start:start + size])
        start += size
    dept_level = next((k for k, level in enumerate(levels) if len(level) >= len(DEPARTMENTS)), len(levels) - 1)
    for k, level in enumerate(levels):
        if k > 0:
            managers = levels[k - 1]
            # Every manager gets one report first, then a skewed share of the rest.
            weights = [rng.paretovariate(2.5) for _ in managers]
            picks = list(managers) + rng.choices(managers, weights=weights, k=max(0, len(level) - len(managers)))
            if len(level) < len(managers):
                picks = rng.sample(managers, len(level))
            rng.shuffle(picks)
            for person, manager in zip(level, picks):
                person["manager"] = manager["objectId"]
                person["_manager"] = manager
        for i, person in enumerate(level):
            if k < dept_level:
                person["department"] = EXECUTIVE
            elif k == dept_level:
                person["department"] = DEPARTMENTS[i % len(DEPARTMENTS)]
            else:
                person["department"] = person["_manager"]["department"]
            if k < len(levels) - 1 or k == 0:
                person["jobTitle"] = LEVEL_TITLES[min(k, len(LEVEL_TITLES) - 1)]
            else:
                person["jobTitle"] = rng.choice(STAFF_TITLES.get(person["department"], ["Specialist"]))
            if k > 0 and rng.random() < 0.02:
                del person["jobTitle"]
            if k > 0 and rng.random() < 0.01:
                del person["employeeId"]
    for person in people:
        person.pop("_manager", None)

    order = ["objectId", "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname",
             "jobTitle", "department", "employeeId", "accountEnabled", "manager"]
    user_list = [{key: person[key] for key in order if key in person} for person in people]
    rng.shuffle(user_list)

    group_list = []
    names = set()
    for index, size in enumerate(_group_sizes(rng, groups, memberships, users)):
        if index == 0:
            name = "All Employees"
        elif index < 4:
            name = ["Engineering Everyone", "Sales & Marketing", "Ünified Communications Users"][index - 1]
        else:
            name = None
            for _ in range(5):
                kind = rng.random()
                if kind < 0.15:
                    candidate = f"{rng.choice(SITES)} Office"
                elif kind < 0.3:
                    candidate = f"{rng.choice(SITES)} {rng.choice(DEPARTMENTS)}"
                else:
                    candidate = f"{rng.choice(DEPARTMENTS)} {rng.choice(GROUP_TOPICS)}"
                if candidate not in names:
                    name = candidate
                    break
            if name is None:
                name = f"{rng.choice(DEPARTMENTS)} {rng.choice(GROUP_TOPICS)} {index}"
        names.add(name)
        members = [user["objectId"] for user in rng.sample(user_list, size)]
        group_list.append({
            "objectId": _uuid(rng),
            "displayName": name,
            "description": f"{name}: {rng.choice(GROUP_PURPOSES)}",
            "mailNickname": f"{ascii_slug(name)}-{index + 1}",
            "members": members,
        })
    rng.shuffle(group_list)
    return {"users": user_list, "groups": group_list}


def write_directory(path, **kw) -> dict:
    """generate_directory(**kw) written to `path` as UTF-8 JSON; returns the directory."""
    directory = generate_directory(**kw)
    Path(path).write_text(json.dumps(directory, ensure_ascii=False, indent=1), encoding="utf-8")
    return directory


def user_levels(directory: dict) -> list[list[dict]]:
    """The users by depth in the manager tree (level 0: no manager, or a manager outside the directory)."""
    by_id = {user["objectId"]: user for user in directory["users"]}
    depth: dict[str, int] = {}
    for user in directory["users"]:
        chain, current = [], user
        while current["objectId"] not in depth:
            chain.append(current["objectId"])
            manager = by_id.get(current.get("manager"))
            if manager is None:
                depth[chain.pop()] = 0
                break
            if manager["objectId"] in chain:
                raise ValueError(f"manager cycle through {manager['userPrincipalName']}")
            current = manager
        base = depth[current["objectId"]]
        for offset, object_id in enumerate(reversed(chain), start=1):
            depth[object_id] = base + offset
    levels: list[list[dict]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for user in directory["users"]:
        levels[depth[user["objectId"]]].append(user)
    return levels


# --- what the engine's default mappings send ---------------------------------------------------------


def expected_user(user: dict, manager_id: str | None = None) -> dict:
    """The POST /Users body Entra's default mappings give this directory user; manager_id is the manager's
    target id. Attributes with no source value are left out."""
    body: dict = {"schemas": [CORE_USER, ENTERPRISE], "userName": user["userPrincipalName"], "active": True}
    if user.get("displayName"):
        body["displayName"] = user["displayName"]
    if user.get("jobTitle"):
        body["title"] = user["jobTitle"]
    if user.get("mail"):
        body["emails"] = [{"type": "work", "value": user["mail"], "primary": True}]
    name = {}
    if user.get("givenName"):
        name["givenName"] = user["givenName"]
    if user.get("surname"):
        name["familyName"] = user["surname"]
    formatted = " ".join(part for part in (user.get("givenName"), user.get("surname")) if part)
    if formatted:
        name["formatted"] = formatted
    if name:
        body["name"] = name
    if user.get("mailNickname"):
        body["externalId"] = user["mailNickname"]
    enterprise = {}
    if user.get("employeeId"):
        enterprise["employeeNumber"] = user["employeeId"]
    if user.get("department"):
        enterprise["department"] = user["department"]
    if manager_id:
        enterprise["manager"] = {"value": manager_id}
    if enterprise:
        body[ENTERPRISE] = enterprise
    return body


def expected_group(group: dict, member_ids: list[str] = ()) -> dict:
    """The POST /Groups body: displayName, externalId = objectId, and these members (target ids)."""
    body = {"schemas": [CORE_GROUP], "displayName": group["displayName"], "externalId": group["objectId"]}
    if member_ids:
        body["members"] = [{"value": member} for member in member_ids]
    return body


def members_patch(member_ids) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members",
                                                    "value": [{"value": member} for member in member_ids]}]}


# --- the target --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_tenant() -> str:
    return uuid.uuid4().hex


@dataclass
class Target:
    """One scripts/scim_target.py process on 127.0.0.1; each tenant name is a fresh, empty SCIM target."""

    port: int
    token: str
    process: subprocess.Popen
    bulk: bool = True

    def base_url(self, tenant: str) -> str:
        return f"http://127.0.0.1:{self.port}/{tenant}/v2"

    def _tenant(self, tenant: str) -> str:
        if "://" in tenant:  # a base_url
            return tenant.split(f":{self.port}/", 1)[1].split("/", 1)[0]
        return tenant

    def stats(self, tenant: str) -> dict:
        """{"requests": n, "by": {"POST /Users": n, ...}} the tenant (name or base_url) received since the last reset."""
        return httpx.get(f"http://127.0.0.1:{self.port}/_stats/{self._tenant(tenant)}", timeout=10).json()

    def reset_stats(self, tenant: str) -> None:
        httpx.delete(f"http://127.0.0.1:{self.port}/_stats/{self._tenant(tenant)}", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_target(no_bulk: bool = False, *, token: str | None = None, threads: int = 8, timeout: float = 20.0) -> Target:
    """Start scripts/scim_target.py on a free 127.0.0.1 port and wait until it answers HTTP."""
    token = token or uuid.uuid4().hex
    last_error = None
    for _attempt in range(3):  # the free port may be taken between the probe and the bind
        port = free_port()
        args = [sys.executable, str(TARGET_SCRIPT), "--port", str(port), "--threads", str(threads)]
        if no_bulk:
            args.append("--no-bulk")
        # The token in the environment, not the command line (`ps` shows that to everyone).
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env={**os.environ, "SCIM_TARGET_TOKENS": token})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = (process.stderr.read() or b"").decode(errors="replace")[-2000:]
                break
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stats/warmup", timeout=2).status_code == 200:
                    process.stderr.close()  # nothing reads it from here on; the server logs little
                    return Target(port=port, token=token, process=process, bulk=not no_bulk)
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            process.kill()
            process.wait()
            raise RuntimeError(f"scim_target.py did not answer on port {port} within {timeout}s")
    raise RuntimeError(f"scim_target.py would not start: {last_error}")


# --- the physical limit ------------------------------------------------------------------------------


@dataclass
class Report:
    seconds: float
    requests: int
    user_ids: dict = field(default_factory=dict)  # user objectId → target id
    group_ids: dict = field(default_factory=dict)  # group objectId → target id
    by_endpoint: dict = field(default_factory=dict)  # "POST /Users" → n
    concurrency: int = 8
    bulk: bool = False
    batch_size: int | None = None
    phases: dict = field(default_factory=dict)  # "users" / "groups" → seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        mode = f"/Bulk ×{self.batch_size}" if self.bulk else "one request per object"
        phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.phases.items())
        return (f"{self.seconds:.2f} s, {self.requests} requests, {self.requests_per_second:.0f} req/s "
                f"({mode}, concurrency {self.concurrency}; {phases})")


class ScimFailure(RuntimeError):
    pass


class _Sender:
    """One shared keep-alive client; counts requests, fails loudly on anything but success."""

    def __init__(self, base_url: str, token: str, concurrency: int, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": SCIM_JSON},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            timeout=timeout,
        )
        self.lock = threading.Lock()
        self.counts = Counter()

    def send(self, method: str, path: str, body: dict | bytes | None = None, *, endpoint: str, params=None):
        content = body if isinstance(body, bytes) else None if body is None else _dumps(body)
        headers = {"Content-Type": SCIM_JSON} if content is not None else None
        response = self.client.request(method, path, content=content, headers=headers, params=params)
        with self.lock:
            self.counts[f"{method} {endpoint}"] += 1
        if response.status_code >= 300:
            raise ScimFailure(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def close(self):
        self.client.close()


def _dumps(body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _id_from_location(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[1]


def _run_all(pool: ThreadPoolExecutor, fn, items) -> list:
    """fn over items in the pool, results in order; the first exception propagates."""
    return list(pool.map(fn, items))


def bare_client(directory: dict, base_url: str, token: str, *, concurrency: int = 8, bulk: bool = False,
                batch_size: int = DEFAULT_BULK_BATCH, max_payload: int = BULK_MAX_PAYLOAD) -> Report:
    """The physical limit: the fewest requests for the end state the engine's default mappings produce.

    Users managers-first, level by level (a level in parallel), one POST /Users each with the manager's target
    id; then groups in parallel (largest first), one POST /Groups with the first 500 members and PATCH adds of
    at most 500 for the rest. bulk=True sends the same creates as POST /Bulk requests of up to `batch_size`
    operations and `max_payload` bytes (a group's PATCHes ride in its POST's request, by bulkId reference).
    Raises ScimFailure on any failed request or operation: a limit that leaves the wrong state is no limit.
    """
    if bulk and not 1 <= batch_size <= BULK_MAX_OPERATIONS:
        raise ValueError(f"batch_size must be 1..{BULK_MAX_OPERATIONS}")
    levels = user_levels(directory)
    user_ids: dict[str, str] = {}
    group_ids: dict[str, str] = {}
    sender = _Sender(base_url, token, concurrency)
    phases = {}
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bare")
    started = time.perf_counter()
    try:
        # Users, managers first.
        for level in levels:
            bodies = [(user["objectId"], expected_user(user, user_ids.get(user.get("manager")))) for user in level]
            if bulk:
                units = [[("POST", "/Users", object_id, body)] for object_id, body in bodies]
                batches = _pack(units, batch_size, max_payload)
                for created in _run_all(pool, lambda ops: _send_bulk(sender, ops), batches):
                    user_ids.update(created)
            else:
                def post_user(item):
                    object_id, body = item
                    return object_id, sender.send("POST", "/Users", body, endpoint="/Users").json()["id"]
                user_ids.update(_run_all(pool, post_user, bodies))
        phases["users"] = time.perf_counter() - started

        # Groups, largest first (the longest chains of PATCHes start early).
        groups = sorted(directory["groups"], key=lambda g: len(g["members"]), reverse=True)

        def member_ids(group):
            return list(dict.fromkeys(user_ids[m] for m in group["members"] if m in user_ids))

        if bulk:
            units, deferred = [], []
            for group in groups:
                ids = member_ids(group)
                bulk_id = group["objectId"]
                post = ("POST", "/Groups", bulk_id, expected_group(group, ids[:MEMBERS_PER_REQUEST]))
                patches = [members_patch(ids[i:i + MEMBERS_PER_REQUEST])
                           for i in range(MEMBERS_PER_REQUEST, len(ids), MEMBERS_PER_REQUEST)]
                unit = [post, *(("PATCH", f"/Groups/bulkId:{bulk_id}", None, patch) for patch in patches)]
                if _fits(unit, batch_size, max_payload):
                    units.append(unit)  # the PATCHes ride with the POST, by bulkId reference
                else:
                    units.append([post])
                    deferred.append((bulk_id, patches))
            for created in _run_all(pool, lambda ops: _send_bulk(sender, ops), _pack(units, batch_size, max_payload)):
                group_ids.update(created)
            if deferred:  # a group too big for one request: its PATCHes follow with the real id
                later = [[("PATCH", f"/Groups/{group_ids[bulk_id]}", None, patch)]
                         for bulk_id, patches in deferred for patch in patches]
                _run_all(pool, lambda ops: _send_bulk(sender, ops), _pack(later, batch_size, max_payload))
        else:
            def provision_group(group):
                ids = member_ids(group)
                target_id = sender.send("POST", "/Groups", expected_group(group, ids[:MEMBERS_PER_REQUEST]),
                                        endpoint="/Groups").json()["id"]
                for i in range(MEMBERS_PER_REQUEST, len(ids), MEMBERS_PER_REQUEST):
                    sender.send("PATCH", f"/Groups/{target_id}", members_patch(ids[i:i + MEMBERS_PER_REQUEST]),
                                endpoint="/Groups/{id}")
                return group["objectId"], target_id
            group_ids.update(_run_all(pool, provision_group, groups))
        seconds = time.perf_counter() - started
        phases["groups"] = seconds - phases["users"]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        sender.close()
    counts = dict(sender.counts)
    return Report(seconds=seconds, requests=sum(counts.values()), user_ids=user_ids, group_ids=group_ids,
                  by_endpoint=counts, concurrency=concurrency, bulk=bulk, batch_size=batch_size if bulk else None,
                  phases=phases)


_BULK_OVERHEAD = len(_dumps({"schemas": [BULK_REQUEST], "Operations": []}))


def _operation(op) -> dict:
    method, path, bulk_id, data = op
    operation = {"method": method, "path": path, "data": data}
    if bulk_id is not None:
        operation["bulkId"] = bulk_id
    return operation


def _size(op) -> int:
    return len(_dumps(_operation(op))) + 1  # and its comma


def _fits(unit, batch_size: int, max_payload: int) -> bool:
    return len(unit) <= batch_size and _BULK_OVERHEAD + sum(_size(op) for op in unit) <= max_payload


def _pack(units: list[list[tuple]], batch_size: int, max_payload: int) -> list[list[tuple]]:
    """Units of operations (a unit stays in one request) in requests of at most batch_size operations and
    max_payload bytes, in order."""
    batches, current, current_size = [], [], _BULK_OVERHEAD
    for unit in units:
        total = sum(_size(op) for op in unit)
        if not _fits(unit, batch_size, max_payload):
            raise ValueError(f"{len(unit)} operations of {total} bytes do not fit in one bulk request")
        if current and (len(current) + len(unit) > batch_size or current_size + total > max_payload):
            batches.append(current)
            current, current_size = [], _BULK_OVERHEAD
        current.extend(unit)
        current_size += total
    if current:
        batches.append(current)
    return batches


def _send_bulk(sender: _Sender, ops: list[tuple]) -> dict:
    """One POST /Bulk; returns bulkId → created id; raises on any failed operation."""
    body = _dumps({"schemas": [BULK_REQUEST], "Operations": [_operation(op) for op in ops]})
    results = sender.send("POST", "/Bulk", body, endpoint="/Bulk").json().get("Operations") or []
    if len(results) != len(ops):
        raise ScimFailure(f"/Bulk answered {len(results)} results for {len(ops)} operations")
    created, failures = {}, []
    for op, result in zip(ops, results):
        status = int(result.get("status", 0))
        if status >= 300:
            failures.append(f"{op[0]} {op[1]} → {status}: {json.dumps(result.get('response'))[:300]}")
        elif op[0] == "POST":
            created[result.get("bulkId") or op[2]] = _id_from_location(result["location"])
    if failures:
        raise ScimFailure(f"{len(failures)} of {len(ops)} bulk operations failed: " + "; ".join(failures[:5]))
    return created


# --- the verifier ------------------------------------------------------------------------------------


def _list_all(client: httpx.Client, endpoint: str, params: dict) -> list[dict]:
    """Every resource at /Users or /Groups, in pages of PAGE_SIZE (startIndex/count), one after the other.

    Sequential on purpose: scim2-server spends ~0.9 ms of one core (GIL) per resource it lists (deep copies,
    then serialization), so parallel pages only add lock contention (10 pages of 1,000 users: 8.2 s one at a
    time, 9.5 s two at a time, 9.9 s four at a time)."""
    resources: list[dict] = []
    start, total = 1, None
    while total is None or len(resources) < total:
        response = client.get(endpoint, params={**params, "startIndex": start, "count": PAGE_SIZE})
        response.raise_for_status()
        page = response.json()
        total = int(page.get("totalResults", 0))
        more = page.get("Resources") or []
        if not more:
            break
        resources.extend(more)
        start += len(more)
    return resources


def _get(resource: dict, dotted: str):
    current = resource
    for part in dotted.split("|"):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _ids(resources) -> str:
    return ", ".join(str(r.get("id", "?")) for r in resources)


_USER_ATTRIBUTES = ["active", "displayName", "title", "emails", "name|givenName", "name|familyName", "name|formatted",
                    "externalId", f"{ENTERPRISE}|employeeNumber", f"{ENTERPRISE}|department"]


def verify_target(directory: dict, base_url: str, token: str) -> list[str]:
    """The differences between the target's users and groups and the directory (empty: exactly right).

    Every directory user exactly once (by userName) with the attributes expected_user() gives, its manager the
    target id of its manager; every group exactly once (by displayName) with externalId = objectId and exactly
    its members' target ids; nothing else on the target. Strings compare case-sensitively. At most 50
    differences, then a count of the rest."""
    differences: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=120) as client:
        users = _list_all(client, "/Users", {"excludedAttributes": "meta"})
        groups = _list_all(client, "/Groups", {"excludedAttributes": "meta"})

    target_users: dict[str, list[dict]] = {}
    for resource in users:
        target_users.setdefault(resource.get("userName"), []).append(resource)
    folded: dict[str, list[str]] = {}
    for user_name in target_users:
        folded.setdefault(str(user_name).casefold(), []).append(str(user_name))
    id_of: dict[str, str] = {}  # objectId → target id (the user the target holds under its userName)
    upn_of_target_id = {resource.get("id"): resource.get("userName") for resource in users}
    expected_names = set()
    for user in directory["users"]:
        upn = user["userPrincipalName"]
        expected_names.add(upn)
        found = target_users.get(upn, [])
        if len(found) == 1:
            id_of[user["objectId"]] = found[0].get("id")
    for user in directory["users"]:
        upn = user["userPrincipalName"]
        found = target_users.get(upn, [])
        if not found:
            variants = [name for name in folded.get(upn.casefold(), []) if name != upn]
            hint = f" (it has {variants[0]!r})" if variants else ""
            differences.append(f"user {upn}: missing on the target{hint}")
            continue
        if len(found) > 1:
            differences.append(f"user {upn}: {len(found)} copies on the target ({_ids(found)})")
            continue
        resource = found[0]
        manager = user.get("manager")
        want = expected_user(user, id_of.get(manager) if manager else None)
        for path in _USER_ATTRIBUTES:
            expected, actual = _get(want, path), _get(resource, path)
            if path == "emails" and isinstance(actual, list):
                actual = [{k: v for k, v in e.items() if k in ("type", "value", "primary")} for e in actual] or None
            if expected != actual:
                differences.append(f"user {upn}: {path.replace('|', '.')} is {actual!r}, expected {expected!r}")
        actual_manager = _get(resource, f"{ENTERPRISE}|manager|value")
        expected_manager = id_of.get(manager) if manager else None
        if manager and expected_manager is None:
            differences.append(f"user {upn}: its manager is not (exactly once) on the target")
        elif actual_manager != expected_manager:
            who = upn_of_target_id.get(actual_manager, "an unknown id") if actual_manager else "nobody"
            differences.append(f"user {upn}: manager is {actual_manager!r} ({who}), expected {expected_manager!r}")
    for user_name, found in target_users.items():
        if user_name not in expected_names:
            differences.extend(f"extra user on the target: {user_name!r} ({r.get('id')})" for r in found)

    target_groups: dict[str, list[dict]] = {}
    for resource in groups:
        target_groups.setdefault(resource.get("displayName"), []).append(resource)
    expected_groups = set()
    for group in directory["groups"]:
        name = group["displayName"]
        expected_groups.add(name)
        found = target_groups.get(name, [])
        if not found:
            differences.append(f"group {name}: missing on the target")
            continue
        if len(found) > 1:
            differences.append(f"group {name}: {len(found)} copies on the target ({_ids(found)})")
            continue
        resource = found[0]
        if resource.get("externalId") != group["objectId"]:
            differences.append(
                f"group {name}: externalId is {resource.get('externalId')!r}, expected {group['objectId']!r}")
        members = [m.get("value") for m in resource.get("members") or []]
        actual = set(members)
        expected = {id_of.get(m) for m in group["members"]}
        unknown = [m for m in group["members"] if id_of.get(m) is None]
        expected.discard(None)
        if len(members) != len(actual):
            differences.append(f"group {name}: {len(members) - len(actual)} duplicate member entries")
        if unknown:
            differences.append(f"group {name}: {len(unknown)} members are not (exactly once) on the target")
        missing, extra = expected - actual, actual - expected
        if missing:
            sample = ", ".join(sorted(upn_of_target_id.get(m, m) for m in missing)[:3])
            differences.append(f"group {name}: {len(missing)} members missing (e.g. {sample})")
        if extra:
            sample = ", ".join(sorted(str(upn_of_target_id.get(m, m)) for m in extra)[:3])
            differences.append(f"group {name}: {len(extra)} unexpected members (e.g. {sample})")
    for name, found in target_groups.items():
        if name not in expected_groups:
            differences.extend(f"extra group on the target: {name!r} ({r.get('id')})" for r in found)

    if len(differences) > 50:
        rest = len(differences) - 50
        differences = differences[:50] + [f"… and {rest} more differences"]
    return differences
