from .api import ApiCall, ApiToken
from .apps import Application
from .assignments import Assignment
from .credentials import AccessToken, SigningKey
from .dry_runs import DryRun, DryRunEntry
from .audit import AuditEntry
from .directory import DeletedDirectoryObject, DirectoryGroup, DirectoryImportUpload, DirectoryUser
from .logs import ProvisioningLog
from .metrics import TargetRequestCount
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
    "AuditEntry",
    "AttributeMapping",
    "CycleChunk",
    "DeletedDirectoryObject",
    "DirectoryGroup",
    "DirectoryImportUpload",
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
    "TargetRequestCount",
    "WebhookDelivery",
    "WebhookEndpoint",
]
