from .apps import Application
from .assignments import Assignment
from .directory import DirectoryGroup, DirectoryUser
from .logs import ProvisioningLog
from .mappings import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter
from .runs import OnDemandRun, ProvisioningCycle, TargetAnchor

__all__ = [
    "Application",
    "Assignment",
    "AttributeMapping",
    "DirectoryGroup",
    "DirectoryUser",
    "ObjectMapping",
    "OnDemandRun",
    "ProvisioningCycle",
    "ProvisioningLog",
    "ScopingClause",
    "ScopingFilter",
    "TargetAnchor",
]
