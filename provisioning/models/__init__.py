from .apps import Application
from .assignments import Assignment
from .audit import AuditEntry
from .directory import DeletedDirectoryObject, DirectoryGroup, DirectoryUser
from .logs import ProvisioningLog
from .mappings import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter
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
    "Application",
    "Assignment",
    "AuditEntry",
    "AttributeMapping",
    "CycleChunk",
    "DeletedDirectoryObject",
    "DirectoryGroup",
    "DirectoryUser",
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
]
