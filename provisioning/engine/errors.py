"""Failures of one object, with the code, description and fix the logs show."""


class ObjectFailure(Exception):
    """The pipeline stops for this object; the log entry records code, description and recommended fix."""

    def __init__(self, code, description, fix=""):
        super().__init__(description)
        self.code = code
        self.description = description
        self.fix = fix


def from_scim_error(exc, doing):
    """Wrap a SCIM client error: `doing` says what we were doing ("create User 'Jane' in Slack")."""
    return ObjectFailure(
        code=getattr(exc, "code", "") or type(exc).__name__,
        description=f"Failed to {doing}: {exc}",
        fix=getattr(exc, "recommended_fix", "") or "",
    )
