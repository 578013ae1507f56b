"""Demo data for `make run`: a believable directory and one SCIM app pointed at the demo target.

Everything here is fixed data, so user principal names are the same on every machine and every run.
Loading is additive: existing users and groups (matched by userPrincipalName / displayName) are left
exactly as they are, so an admin's edits survive a restart and re-running touches no `updated_at`
(the engine's incremental cycles read changes since the last cycle from it).
"""

import unicodedata
from dataclasses import dataclass, field

from django.db import transaction

from provisioning.defaults import install_default_mappings
from provisioning.models import Application, Assignment, DirectoryGroup, DirectoryUser
from provisioning.secrets import SecretUnreadable

DOMAIN = "contoso.example"
APP_NAME = "Contoso SCIM Demo"
APP_DESCRIPTION = "Provisions the demo directory into the scim2-server that `make run` starts."
NOTIFICATION_EMAIL = "provisioning-alerts@contoso.example"

COST_CENTERS = {
    "Executive": "CC-1000",
    "Engineering": "CC-4100",
    "Sales": "CC-2100",
    "Marketing": "CC-2200",
    "Finance": "CC-3100",
    "HR": "CC-3200",
    "Support": "CC-5100",
    "IT": "CC-4200",
}


@dataclass(frozen=True)
class Person:
    key: str  # the UPN's local part without the domain; also the manager reference
    given: str
    surname: str
    title: str  # "" = no jobTitle
    department: str  # "" = no department
    manager: str | None  # key of the manager
    display: str = ""  # when not "given surname" (family name first, as in Vietnamese)
    mail: bool = True
    employee_type: str = "Employee"  # Contractors have no employeeId, as in most HR feeds
    enabled: bool = True
    office: str = ""


# A CEO, department heads reporting to the CEO, managers, then individual contributors.
PEOPLE = [
    Person("margaret.chen", "Margaret", "Chen", "Chief Executive Officer", "Executive", None, office="Seattle"),
    Person("eleanor.whitfield", "Eleanor", "Whitfield", "Executive Assistant", "Executive", "margaret.chen"),
    # Engineering
    Person("siobhan.obriain", "Siobhán", "Ó Briain", "VP Engineering", "Engineering", "margaret.chen", office="Dublin"),
    Person("lukasz.zolc", "Łukasz", "Żółć", "Engineering Manager", "Engineering", "siobhan.obriain", office="Kraków"),
    Person("priya.raghunathan", "Priya", "Raghunathan", "Engineering Manager", "Engineering", "siobhan.obriain"),
    Person("soren.ostergaard", "Søren", "Østergaard", "Staff Engineer", "Engineering", "siobhan.obriain"),
    Person("jurgen.schafer", "Jürgen", "Schäfer", "Security Engineer", "Engineering", "siobhan.obriain"),
    Person("zoe.muller", "Zoë", "Müller", "Senior Software Engineer", "Engineering", "lukasz.zolc", office="Zürich"),
    Person("bjorn.angstrom", "Björn", "Ångström", "Software Engineer", "Engineering", "lukasz.zolc"),
    Person("minh.nguyen", "Minh", "Nguyễn", "Software Engineer", "Engineering", "lukasz.zolc", display="Nguyễn Thị Minh"),
    Person("yuki.tanaka", "Yuki", "Tanaka", "Software Engineer", "Engineering", "lukasz.zolc"),
    Person("chloe.dubois", "Chloé", "Dubois", "Frontend Engineer", "Engineering", "lukasz.zolc"),
    Person("dmitri.volkov", "Dmitri", "Volkov", "Software Engineer", "Engineering", "lukasz.zolc", employee_type="Contractor"),
    Person("kwame.mensah", "Kwame", "Mensah", "Site Reliability Engineer", "Engineering", "priya.raghunathan"),
    Person("analucia.goncalves", "Ana Lúcia", "Gonçalves", "QA Engineer", "Engineering", "priya.raghunathan"),
    Person("francois.lefevre", "François", "Lefèvre", "Software Engineer", "Engineering", "priya.raghunathan"),
    Person("ahmed.alfarsi", "Ahmed", "Al-Farsi", "DevOps Engineer", "Engineering", "priya.raghunathan"),
    Person("olga.ivanova", "Olga", "Ivanova", "Data Engineer", "Engineering", "priya.raghunathan"),
    Person("mateo.fernandez", "Mateo", "Fernández", "", "Engineering", "priya.raghunathan"),
    Person("aisha.bello", "Aisha", "Bello", "Software Engineer Intern", "Engineering", "priya.raghunathan", mail=False, employee_type="Intern"),
    # Sales
    Person("jose.nunez", "José", "Núñez", "VP Sales", "Sales", "margaret.chen", office="Madrid"),
    Person("emma.johansson", "Emma", "Johansson", "Sales Manager EMEA", "Sales", "jose.nunez"),
    Person("carlos.rodriguez", "Carlos", "Rodríguez", "Sales Manager Americas", "Sales", "jose.nunez"),
    Person("liam.oconnor", "Liam", "O'Connor", "Account Executive", "Sales", "emma.johansson"),
    Person("fatima.zahra", "Fatima", "Zahra", "Account Executive", "Sales", "emma.johansson"),
    Person("hannah.schmidt", "Hannah", "Schmidt", "Sales Development Representative", "Sales", "emma.johansson"),
    Person("lucas.oliveira", "Lucas", "Oliveira", "Account Executive", "Sales", "carlos.rodriguez"),
    Person("grace.kim", "Grace", "Kim", "Sales Engineer", "Sales", "carlos.rodriguez"),
    Person("noah.williams", "Noah", "Williams", "Account Executive", "Sales", "carlos.rodriguez", enabled=False),
    Person("isabella.rossi", "Isabella", "Rossi", "Sales Development Representative", "Sales", "carlos.rodriguez"),
    # Marketing
    Person("amelie.laurent", "Amélie", "Laurent", "VP Marketing", "Marketing", "margaret.chen", office="Paris"),
    Person("ingrid.bergstrom", "Ingrid", "Bergström", "Marketing Manager", "Marketing", "amelie.laurent"),
    Person("tamas.horvath", "Tamás", "Horváth", "Product Marketing Manager", "Marketing", "amelie.laurent"),
    Person("rajesh.kumar", "Rajesh", "Kumar", "Content Strategist", "Marketing", "ingrid.bergstrom"),
    Person("sofia.martinez", "Sofía", "Martínez", "Brand Designer", "Marketing", "ingrid.bergstrom"),
    Person("mei.lin", "Mei", "Lin", "Social Media Specialist", "Marketing", "ingrid.bergstrom", mail=False),
    Person("oliver.brown", "Oliver", "Brown", "Marketing Analyst", "Marketing", "tamas.horvath"),
    Person("zeynep.yilmaz", "Zeynep", "Yılmaz", "Events Coordinator", "Marketing", "tamas.horvath"),
    # Finance
    Person("robert.taylor", "Robert", "Taylor", "Chief Financial Officer", "Finance", "margaret.chen"),
    Person("ewa.kowalska", "Ewa", "Kowalska", "Finance Manager", "Finance", "robert.taylor"),
    Person("daniel.weiss", "Daniel", "Weiß", "Controller", "Finance", "robert.taylor"),
    Person("pedro.alves", "Pedro", "Alves", "Accountant", "Finance", "ewa.kowalska"),
    Person("sarah.cohen", "Sarah", "Cohen", "Financial Analyst", "Finance", "ewa.kowalska"),
    Person("hiroshi.yamamoto", "Hiroshi", "Yamamoto", "Payroll Specialist", "Finance", "ewa.kowalska"),
    Person("nadia.petrova", "Nadia", "Petrova", "", "Finance", "ewa.kowalska"),
    # HR
    Person("renee.marchand", "Renée", "Marchand", "HR Director", "HR", "margaret.chen"),
    Person("kofi.annor", "Kofi", "Annor", "HR Business Partner", "HR", "renee.marchand"),
    Person("laura.garcia", "Laura", "García", "Recruiter", "HR", "renee.marchand"),
    Person("malak.haddad", "Malak", "Haddad", "Recruiter", "HR", "renee.marchand"),
    Person("benjamin.clark", "Benjamin", "Clark", "HR Coordinator", "HR", "renee.marchand", enabled=False),
    Person("ngozi.okafor", "Ngozi", "Okafor", "Learning & Development Specialist", "HR", "renee.marchand"),
    # Support
    Person("thomas.andersson", "Thomas", "Andersson", "Support Director", "Support", "margaret.chen"),
    Person("mariajose.perez", "María José", "Pérez", "Support Team Lead", "Support", "thomas.andersson"),
    Person("ravi.shankar", "Ravi", "Shankar", "Support Team Lead", "Support", "thomas.andersson"),
    Person("jana.novakova", "Jana", "Nováková", "Support Engineer", "Support", "mariajose.perez"),
    Person("pierre-yves.moreau", "Pierre-Yves", "Moreau", "Support Engineer", "Support", "mariajose.perez"),
    Person("elif.demir", "Elif", "Demir", "Support Engineer", "Support", "mariajose.perez"),
    Person("samuel.adeyemi", "Samuel", "Adeyemi", "Support Engineer", "Support", "ravi.shankar"),
    Person("chiara.bianchi", "Chiara", "Bianchi", "Support Engineer", "Support", "ravi.shankar"),
    Person("ali.hassan", "Ali", "Hassan", "Support Engineer", "Support", "ravi.shankar", employee_type="Contractor"),
    Person("vikram.patel", "Vikram", "Patel", "", "Support", "ravi.shankar", mail=False),
    # IT
    Person("helga.thorsdottir", "Helga", "Þórsdóttir", "IT Manager", "IT", "margaret.chen", office="Reykjavík"),
    Person("marcus.johnson", "Marcus", "Johnson", "Systems Administrator", "IT", "helga.thorsdottir"),
    Person("anh.tran", "Anh", "Trần", "Helpdesk Technician", "IT", "helga.thorsdottir", display="Trần Anh"),
    Person("patrick.murphy", "Patrick", "Murphy", "Identity Engineer", "IT", "helga.thorsdottir"),
    # An outside consultant with next to nothing filled in, as HR feeds often deliver.
    Person("xavier.dupuis", "Xavier", "Dupuis", "", "", None, mail=False, employee_type="Contractor"),
]


@dataclass(frozen=True)
class GroupSpec:
    name: str
    description: str
    members: tuple[str, ...]  # person keys


def _keys(predicate):
    return tuple(p.key for p in PEOPLE if predicate(p))


_MANAGERS = {p.manager for p in PEOPLE if p.manager}

GROUPS = [
    GroupSpec("All Engineering", "Everyone in Engineering", _keys(lambda p: p.department == "Engineering")),
    GroupSpec("Sales", "Sales security group", _keys(lambda p: p.department == "Sales")),
    GroupSpec("Marketing", "Marketing security group", _keys(lambda p: p.department == "Marketing")),
    GroupSpec("Finance", "Finance security group", _keys(lambda p: p.department == "Finance")),
    GroupSpec("Human Resources", "HR security group", _keys(lambda p: p.department == "HR")),
    GroupSpec("Customer Support", "Support security group", _keys(lambda p: p.department == "Support")),
    GroupSpec("IT Operations", "IT security group", _keys(lambda p: p.department == "IT")),
    GroupSpec(
        "Pilot users",
        "Early adopters who get new apps first",
        ("zoe.muller", "minh.nguyen", "jose.nunez", "sofia.martinez", "jana.novakova", "anh.tran", "pedro.alves"),
    ),
    GroupSpec(
        "VPN users",
        "May connect to the corporate VPN",
        _keys(lambda p: p.department in ("Engineering", "IT", "Support") or p.key in ("emma.johansson", "grace.kim")),
    ),
    GroupSpec("People managers", "Everyone with direct reports", _keys(lambda p: p.key in _MANAGERS)),
    GroupSpec("Contractors", "External workers", _keys(lambda p: p.employee_type == "Contractor")),
]

# What the demo app has assigned: a few people (one of them disabled, to show a Disable) and two groups.
ASSIGNED_USERS = ("zoe.muller", "lukasz.zolc", "siobhan.obriain", "bjorn.angstrom", "jose.nunez", "noah.williams")
ASSIGNED_GROUPS = ("Pilot users", "Marketing")

# Letters NFKD does not decompose into an ASCII base letter.
_ASCII_LETTERS = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "þ": "th", "Þ": "Th", "đ": "d", "Đ": "D", "ı": "i", "æ": "ae", "Æ": "AE"})


def ascii_fold(text: str) -> str:
    """'Łukasz Żółć' → 'Lukasz Zolc': user principal names and nicknames stay ASCII, as Entra requires."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "ignore").decode()


def upn(key: str) -> str:
    return f"{key}@{DOMAIN}"


def user_fields(index: int, person: Person) -> dict:
    """The DirectoryUser fields of one person (without manager, set once everyone exists)."""
    extensions = {"extension_employeeType": person.employee_type}
    if person.department:
        extensions["extension_costCenter"] = COST_CENTERS[person.department]
    if person.office:
        extensions["extension_officeLocation"] = person.office
    return {
        "user_principal_name": upn(person.key),
        "display_name": person.display or f"{person.given} {person.surname}",
        "given_name": person.given,
        "surname": person.surname,
        "mail": upn(person.key) if person.mail else "",
        "mail_nickname": person.key,
        "job_title": person.title,
        "department": person.department,
        "employee_id": f"E{1001 + index}" if person.employee_type != "Contractor" else "",
        "account_enabled": person.enabled,
        "extension_attributes": extensions,
    }


def group_nickname(name: str) -> str:
    return "".join(c for c in ascii_fold(name).lower() if c.isalnum())


@dataclass
class DemoResult:
    users_created: int = 0
    users_existing: int = 0
    groups_created: int = 0
    groups_existing: int = 0
    app: Application | None = None
    app_created: bool = False
    app_changes: list[str] = field(default_factory=list)  # what was brought up to date on an existing app


def load_directory(result: DemoResult) -> dict[str, DirectoryUser]:
    """Create the demo users and groups that are missing; returns every demo user by person key."""
    existing = {u.user_principal_name: u for u in DirectoryUser.objects.filter(user_principal_name__in=[upn(p.key) for p in PEOPLE])}
    users, created = {}, set()
    for index, person in enumerate(PEOPLE):
        user = existing.get(upn(person.key))
        if user is None:
            user = DirectoryUser.objects.create(**user_fields(index, person))
            created.add(person.key)
        users[person.key] = user
    # Managers only for the users created now: an admin may have changed an existing user's manager.
    for person in PEOPLE:
        if person.key in created and person.manager:
            user = users[person.key]
            user.manager = users[person.manager]
            user.save(update_fields=["manager"])
    result.users_created = len(created)
    result.users_existing = len(PEOPLE) - len(created)

    existing_groups = set(DirectoryGroup.objects.filter(display_name__in=[g.name for g in GROUPS]).values_list("display_name", flat=True))
    for spec in GROUPS:
        if spec.name in existing_groups:
            result.groups_existing += 1
            continue
        group = DirectoryGroup.objects.create(display_name=spec.name, description=spec.description, mail_nickname=group_nickname(spec.name))
        group.members.set([users[key] for key in spec.members])
        result.groups_created += 1
    return users


def ensure_demo_application(users: dict[str, DirectoryUser], result: DemoResult, *, tenant_url: str, token: str):
    """Create the demo app once; afterwards only keep its credentials pointing at the running demo target."""
    app = Application.objects.filter(name=APP_NAME).first()
    if app is None:
        app = Application(
            name=APP_NAME,
            description=APP_DESCRIPTION,
            provisioning_mode=Application.Mode.AUTOMATIC,
            tenant_url=tenant_url,
            notification_email=NOTIFICATION_EMAIL,
            notify_on_failure=True,
            scope=Application.Scope.ASSIGNED,
            # Credentials are saved, nothing has run: the admin starts provisioning.
            provisioning_enabled=False,
            job_status=Application.JobStatus.NOT_RUN if tenant_url and token else Application.JobStatus.NOT_CONFIGURED,
        )
        app.set_secret_token(token)
        app.save()
        install_default_mappings(app)
        for key in ASSIGNED_USERS:
            Assignment.objects.create(application=app, user=users[key])
        for group in DirectoryGroup.objects.filter(display_name__in=ASSIGNED_GROUPS):
            Assignment.objects.create(application=app, group=group)
        result.app_created = True
    elif tenant_url and token:
        changed = []
        if app.tenant_url != tenant_url:
            app.tenant_url = tenant_url
            changed.append("tenant_url")
        if _saved_token(app) != token:
            app.set_secret_token(token)
            changed.append("secret_token_encrypted")
        if changed:
            app.save(update_fields=changed)
            result.app_changes = ["Tenant URL" if name == "tenant_url" else "Secret Token" for name in changed]
    result.app = app
    return app


def _saved_token(app):
    try:
        return app.get_secret_token()
    except SecretUnreadable:
        return None


@transaction.atomic
def load_demo_data(*, tenant_url: str = "", token: str = "") -> DemoResult:
    """Load the demo directory and the demo app; safe to run on every start."""
    result = DemoResult()
    users = load_directory(result)
    ensure_demo_application(users, result, tenant_url=tenant_url, token=token)
    return result
