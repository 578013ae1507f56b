"""factory-boy factories, one per model."""

import datetime

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from provisioning import models
from provisioning.roles import ADMINISTRATORS, HELPDESK


class UserFactory(factory.django.DjangoModelFactory):
    """A portal login (Django auth user)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        _give_role(obj, extracted)


def _give_role(user, role):
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.save()


class AdministratorFactory(UserFactory):
    role = factory.PostGeneration(lambda obj, create, extracted, **kwargs: _give_role(obj, extracted or ADMINISTRATORS))


class HelpdeskFactory(UserFactory):
    role = factory.PostGeneration(lambda obj, create, extracted, **kwargs: _give_role(obj, extracted or HELPDESK))


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DirectoryUser

    given_name = factory.Faker("first_name")
    surname = factory.Faker("last_name")
    display_name = factory.LazyAttribute(lambda o: f"{o.given_name} {o.surname}")
    user_principal_name = factory.Sequence(lambda n: f"user{n}@contoso.example")
    mail = factory.LazyAttribute(lambda o: o.user_principal_name)
    mail_nickname = factory.LazyAttribute(lambda o: o.user_principal_name.split("@")[0])
    job_title = "Engineer"
    department = "Engineering"
    employee_id = factory.Sequence(lambda n: f"E{n:05d}")
    account_enabled = True


class DirectoryGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DirectoryGroup
        skip_postgeneration_save = True

    display_name = factory.Sequence(lambda n: f"Group {n}")
    mail_nickname = factory.Sequence(lambda n: f"group{n}")

    @factory.post_generation
    def members(obj, create, extracted, **kwargs):
        if extracted:
            obj.members.set(extracted)


class ApplicationFactory(factory.django.DjangoModelFactory):
    """An app with provisioning configured (Automatic, a tenant URL and a token) and default mappings."""

    class Meta:
        model = models.Application
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"App {n}")
    provisioning_mode = models.Application.Mode.AUTOMATIC
    tenant_url = "http://127.0.0.1:9/scim/v2"
    notification_email = "oncall@contoso.example"
    # The product syncs changes at once (the model's default); a test that edits the directory and then runs a
    # cycle itself must not race a change cycle, so tests turn it on where they test it (tests/engine/test_changes.py).
    sync_changes_immediately = False

    @factory.post_generation
    def secret_token(obj, create, extracted, **kwargs):
        obj.set_secret_token(extracted if extracted is not None else "test-token")
        obj.save()

    @factory.post_generation
    def default_mappings(obj, create, extracted, **kwargs):
        if extracted is not False:
            from provisioning.defaults import install_default_mappings

            install_default_mappings(obj)


class ObjectMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ObjectMapping

    application = factory.SubFactory(ApplicationFactory, default_mappings=False)
    object_type = models.ObjectMapping.ObjectType.USER
    name = "Provision Directory Users"
    target_object = "urn:ietf:params:scim:schemas:core:2.0:User"


class AttributeMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AttributeMapping

    object_mapping = factory.SubFactory(ObjectMappingFactory)
    mapping_type = models.AttributeMapping.MappingType.DIRECT
    source_attribute = "displayName"
    target_attribute = factory.Sequence(lambda n: f"urn:ietf:params:scim:schemas:extension:test:2.0:User:attr{n}")


class ScopingFilterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ScopingFilter

    object_mapping = factory.SubFactory(ObjectMappingFactory)
    title = factory.Sequence(lambda n: f"Filter {n}")


class ScopingClauseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ScopingClause

    scoping_filter = factory.SubFactory(ScopingFilterFactory)
    attribute = "department"
    operator = "EQUALS"
    value = "Engineering"


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Assignment

    application = factory.SubFactory(ApplicationFactory)
    user = factory.SubFactory(DirectoryUserFactory)


class ProvisioningCycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ProvisioningCycle

    application = factory.SubFactory(ApplicationFactory)
    kind = models.ProvisioningCycle.Kind.INITIAL


class OnDemandRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OnDemandRun

    application = factory.SubFactory(ApplicationFactory)


class ExportStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ExportState

    application = factory.SubFactory(ApplicationFactory)
    object_type = "user"
    source_id = factory.Faker("uuid4")
    target_id = factory.Faker("hexify", text="^" * 32)


class ProvisioningLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ProvisioningLog

    application = factory.SubFactory(ApplicationFactory)
    created_at = factory.Faker("date_time_this_month", tzinfo=datetime.timezone.utc)
    initiated_by = models.ProvisioningLog.InitiatedBy.CYCLE
    object_type = "user"
    source_id = factory.Faker("uuid4")
    source_display_name = factory.Faker("name")
    source_upn = factory.Faker("email")
    action = models.ProvisioningLog.Action.CREATE
    status = models.ProvisioningLog.Status.SUCCESS


class CycleChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CycleChunk

    cycle = factory.SubFactory(ProvisioningCycleFactory)
    phase = models.ProvisioningCycle.Phase.USERS
    step = 0
    object_ids = factory.LazyFunction(list)
    total = 0


class PendingRemovalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PendingRemoval

    cycle = factory.SubFactory(ProvisioningCycleFactory)
    object_type = "user"
    source_id = factory.Faker("uuid4")
    removal = models.PendingRemoval.Removal.DISABLE
    reason = "the user is not assigned to the application"


class EscrowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Escrow

    application = factory.SubFactory(ApplicationFactory)
    object_type = "user"
    source_id = factory.Faker("uuid4")
    error_code = "InternalServerError"
    error_description = "Failed to create User: returned 500"
    first_failed_at = factory.LazyFunction(timezone.now)
    last_failed_at = factory.LazyAttribute(lambda o: o.first_failed_at)
    next_retry_at = factory.LazyAttribute(lambda o: o.first_failed_at)


class DeletedDirectoryObjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DeletedDirectoryObject

    object_type = "user"
    object_id = factory.Faker("uuid4")
    display_name = factory.Faker("name")
    deleted_at = factory.LazyFunction(timezone.now)


class ListedTargetObjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ListedTargetObject

    cycle = factory.SubFactory(ProvisioningCycleFactory)
    object_type = "user"
    match_key = factory.Sequence(lambda n: f"username:user{n}@contoso.example")
    target_id = factory.Faker("hexify", text="^" * 32)
    resource = factory.LazyAttribute(lambda o: {"id": o.target_id, "userName": o.match_key.split(":", 1)[1]})


class DryRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DryRun

    application = factory.SubFactory(ApplicationFactory)
    kind = "initial"


class DryRunEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DryRunEntry

    dry_run = factory.SubFactory(DryRunFactory)
    object_type = "user"
    source_id = factory.Faker("uuid4")
    action = "create"
    status = "success"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.WebhookEndpoint

    application = factory.SubFactory(ApplicationFactory)
    name = factory.Sequence(lambda n: f"Hook {n}")
    url = "https://hooks.example.com/provisioning"
    events = factory.LazyFunction(lambda: [e.value for e in models.WebhookEndpoint.Event])


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event = "test"
    payload = factory.LazyFunction(dict)


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """An API token made the way the page makes it; its text (shown once) is on `.text`."""

    class Meta:
        model = models.ApiToken

    name = factory.Sequence(lambda n: f"script {n}")
    role = models.ApiToken.Role.READ_ONLY
    created_by = factory.SubFactory(AdministratorFactory)
    expires_in_days = 90

    @classmethod
    def _create(cls, model_class, *, name, role, created_by, expires_in_days, **kwargs):
        from provisioning.api_tokens import create_token

        token, text = create_token(name=name, role=role, created_by=created_by, expires_in_days=expires_in_days)
        for field, value in kwargs.items():  # e.g. revoked_at, expires_at for the refusals
            setattr(token, field, value)
        if kwargs:
            token.save()
        token.text = text
        return token


class ApiCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ApiCall

    at = factory.LazyFunction(timezone.now)
    method = "GET"
    path = "/api/v1/servicePrincipals"
    status_code = 200
    request_id = factory.Faker("uuid4")
