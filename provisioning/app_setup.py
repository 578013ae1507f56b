"""Create an application ready to provision in one step (`manage.py create_app`), for scripted installs."""

from django.db import transaction

from provisioning import audit
from provisioning.defaults import install_default_mappings
from provisioning.models import Application, Assignment, DirectoryUser
from provisioning.scim.outbound import url_refusal
from provisioning.scim.tenant_url import tenant_url_problem, token_problem

NAME_MAX_LENGTH = Application._meta.get_field("name").max_length


class SetupError(Exception):
    """What is wrong with the request, worded for the operator; nothing was created."""


def create_application(name: str, *, tenant_url: str, token: str, scope: str = Application.Scope.ASSIGNED,
                       entra_compatible: bool = False, assign_all: bool = False,
                       deletion_threshold: int | None = None) -> tuple[Application, int]:
    """A new Automatic-mode app with its credentials and Entra's default mappings; returns (app, assignments made).

    Provisioning Status stays Off, as after saving the credentials in the portal: starting the initial cycle
    is a separate decision.
    """
    name = (name or "").strip()
    tenant_url = (tenant_url or "").strip()
    token = token or ""
    if not name:
        raise SetupError("The application name is empty: give a name, e.g. 'Slack'.")
    if len(name) > NAME_MAX_LENGTH:
        raise SetupError(f"The application name is {len(name)} characters long: at most {NAME_MAX_LENGTH} are allowed.")
    if problem := tenant_url_problem(tenant_url):
        raise SetupError(f"{problem} Give the target's SCIM base address, e.g. https://scim.example.com/scim/v2.")
    if problem := url_refusal(tenant_url):
        raise SetupError(problem)
    if problem := token_problem(token):
        raise SetupError(problem)
    if scope not in Application.Scope.values:
        raise SetupError(f"The scope '{scope}' is not one of: {', '.join(Application.Scope.values)}.")
    if deletion_threshold is not None and deletion_threshold < 0:
        raise SetupError(f"The deletion threshold must be 0 (off) or more disables and deletes per cycle, not {deletion_threshold}.")
    with transaction.atomic():
        # Case-insensitive, as the portal's New application form checks.
        existing = Application.objects.filter(name__iexact=name).first()
        if existing is not None:
            raise SetupError(f"An application named '{existing.name}' already exists (id {existing.pk}): choose another name, "
                             "or change that application in the portal.")
        app = Application(
            name=name,
            provisioning_mode=Application.Mode.AUTOMATIC,
            tenant_url=tenant_url,
            scope=scope,
            entra_compatible=entra_compatible,
            job_status=Application.JobStatus.NOT_RUN,
        )
        if deletion_threshold is not None:
            # 0 turns accidental-deletion prevention off; any other value is the threshold.
            app.prevent_accidental_deletions = deletion_threshold > 0
            app.deletion_threshold = deletion_threshold or app.deletion_threshold
        app.set_secret_token(token)
        with audit.changes(None, "Add application", by="manage.py create_app", category=audit.Category.APPLICATION) as watched:
            app.save()
            watched.obj = app
        install_default_mappings(app)
        assigned = 0
        if assign_all:
            # bulk_create sends no post_save, so no directory row is touched: right here, since only this app's
            # (initial) cycle cares, and touching every user would make every other app's next cycle re-read them.
            users = DirectoryUser.objects.order_by("pk").values_list("pk", flat=True)
            created = Assignment.objects.bulk_create((Assignment(application=app, user_id=pk) for pk in users.iterator(chunk_size=5000)),
                                                     batch_size=1000)
            assigned = len(created)
    return app, assigned
