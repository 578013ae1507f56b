"""Evaluate Entra's default user mapping set for 10,000 synthetic users; print the time (best of 3).

Run from the repository root: .venv/bin/python bench/bench_expressions.py
Django is set up only because provisioning/defaults.py imports the models; the expression package
itself needs none of it.
"""

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from provisioning.defaults import DEFAULT_USER_MAPPINGS, Direct, attribute_mapping_fields  # noqa: E402
from provisioning.engine.mapping import evaluate_mapping  # noqa: E402
from provisioning.models import AttributeMapping  # noqa: E402
from provisioning.expressions import compile_expression  # noqa: E402
from provisioning.models.directory import DirectoryUser  # noqa: E402

USERS = 10_000
GIVEN = ["John", "Zoë", "Łukasz", "Ana", "Jéssica", "Mohammed", "Siobhán", "Kenji", "Ørjan", "Priya"]
SURNAMES = ["Smith", "Müller", "García", "O'Brien", "Nguyễn", "Kowalski", "Ødegård", "Tanaka", "Dubois", ""]
DEPARTMENTS = ["Sales", "Engineering", "Finance", "", "Support"]


def synthetic_users(count: int) -> list[dict]:
    """Attributes exactly as DirectoryUser.source_attributes() gives them, plus the engine's IsSoftDeleted."""
    rng = random.Random(7)
    users = []
    for number in range(count):
        given, surname = rng.choice(GIVEN), rng.choice(SURNAMES)
        user = DirectoryUser(
            user_principal_name=f"user{number}@contoso.com",
            display_name=f"{given} {surname}".strip(),
            given_name=given,
            surname=surname,
            mail=f"user{number}@contoso.com" if number % 10 else "",
            mail_nickname=f"user{number}",
            job_title=rng.choice(["Engineer", "Manager", ""]),
            department=rng.choice(DEPARTMENTS),
            employee_id=str(100000 + number) if number % 7 else "",
            account_enabled=number % 50 != 0,
        )
        attributes = user.source_attributes()
        attributes["IsSoftDeleted"] = not user.account_enabled
        users.append(attributes)
    return users


# Expressions admins commonly add on top of the defaults (UPN generation, lookups, regex, fallbacks).
CUSTOM_EXPRESSIONS = [
    'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com"))',
    'Switch([department], "Other", "Sales", "S", "Engineering", "E", "Finance", "F")',
    'Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
    "Coalesce([mail], [userPrincipalName])",
    'IIF([accountEnabled] = "True", PCase([displayName]), "Disabled")',
]


def evaluate_all(users: list[dict], mapping_set) -> int:
    mappings = [
        (target, source if kind == Direct else compile_expression(source).evaluate)
        for kind, source, target, _extra in mapping_set
    ]
    flowing = 0
    for attributes in users:
        for _target, source in mappings:
            value = attributes.get(source) if isinstance(source, str) else source(attributes)
            if value is not None:
                flowing += 1
    return flowing


def evaluate_through_the_engine(users: list[dict]) -> int:
    """The engine's own per-mapping function over AttributeMapping rows (unsaved: no database involved)."""
    mappings = [AttributeMapping(**attribute_mapping_fields(kind, source, target, extra, i))
                for i, (kind, source, target, extra) in enumerate(DEFAULT_USER_MAPPINGS)]
    flowing = 0
    for attributes in users:
        for mapping in mappings:
            value, _display = evaluate_mapping(mapping, attributes)
            if value is not None:
                flowing += 1
    return flowing


def main():
    users = synthetic_users(USERS)
    custom = [("Expression", text, f"custom{i}", {}) for i, text in enumerate(CUSTOM_EXPRESSIONS)]
    runs = [
        ("default user mappings", DEFAULT_USER_MAPPINGS, lambda: evaluate_all(users, DEFAULT_USER_MAPPINGS)),
        ("default user mappings via engine.mapping", DEFAULT_USER_MAPPINGS, lambda: evaluate_through_the_engine(users)),
        ("defaults + 5 custom expressions", DEFAULT_USER_MAPPINGS + custom, lambda: evaluate_all(users, DEFAULT_USER_MAPPINGS + custom)),
    ]
    for label, mapping_set, evaluate_set in runs:
        expressions = sum(1 for kind, *_ in mapping_set if kind != Direct)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            flowing = evaluate_set()
            times.append(time.perf_counter() - started)
        best = min(times)
        print(
            f"{label} ({len(mapping_set)} mappings, {expressions} expressions), {USERS:,} users: "
            f"{best:.3f} s ({USERS / best:,.0f} users/s), best of 3; {flowing:,} values flowed"
        )


if __name__ == "__main__":
    main()
