from .api import ApiCall, ApiToken
from .apps import Application
from .assignments import Assignment
from .credentials import AccessToken, SigningKey
from .dry_runs import DryRun, DryRunEntry
from .directory import DeletedDirectoryObject, DirectoryGroup, DirectoryUser
from .logs import ProvisioningLog
from .mappings import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter
from .webhooks import WebhookDelivery, WebhookEndpoint
from .runs import (
    CycleChunk,
    Escrow,
    ExportState,
    ListedTargetObject,
    OnDemandRun,
    PendingRemoval,
    ProvisioningCycle,
    Quarantine,
    RunState,
)

__all__ = [
    "AccessToken",
    "ApiCall",
    "ApiToken",
    "Application",
    "Assignment",
    "AttributeMapping",
    "CycleChunk",
    "DeletedDirectoryObject",
    "DirectoryGroup",
    "DirectoryUser",
    "DryRun",
    "DryRunEntry",
    "Escrow",
    "ExportState",
    "ListedTargetObject",
    "ObjectMapping",
    "OnDemandRun",
    "PendingRemoval",
    "ProvisioningCycle",
    "ProvisioningLog",
    "Quarantine",
    "RunState",
    "ScopingClause",
    "ScopingFilter",
    "SigningKey",
    "WebhookDelivery",
    "WebhookEndpoint",
]
