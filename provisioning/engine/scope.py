"""Step 3, Determine if the object is in scope: deleted, active, assigned, scoping filters, as Entra decides."""

from provisioning.engine.errors import ObjectFailure
from provisioning.engine.source import GROUP, USER
from provisioning.engine.steps import display
from provisioning.scoping import ScopingRegexTimeout, evaluate_scope


def scoping_rows(decision):
    """Each clause of each scoping filter, as the Determine-scope step lists them."""
    return [
        (f"{result.title}: {clause_result.clause.text}", "Passed" if clause_result.passed else "Failed", clause_result.explanation)
        for result in decision.filters
        for clause_result in result.clauses
    ]


def fix_for(ctx, source, rows):
    """What would let an out-of-scope object in, naming the portal page to change (linked in the log entry)."""
    failed = {condition for condition, result, _ in rows if result == "Failed"}
    noun = "user" if source.object_type == USER else "group"
    if "Exists in source system" in failed or "Soft-deleted in source system" in failed:
        return f"Nothing to do if the {noun} was meant to leave; otherwise restore it in the directory."
    if "Active in source system" in failed:
        return "Enable the account in the directory (accountEnabled), then Provision on demand or wait for the next cycle."
    if "Assigned to application" in failed:
        return (f"Assign users and groups: assign the {noun} (or a group it belongs to) to {ctx.application.name}, or "
                "Set Scope to Sync all users and groups on the Provisioning page.")
    filters = {condition.split(":", 1)[0] for condition, result, _ in rows if result == "Failed" and ":" in condition}
    if filters:
        named = ", ".join(f"'{title}'" for title in sorted(filters))
        return (f"Change the {noun}'s attribute in the directory, or edit the scoping filter {named} "
                f"(Mappings > Scoping) so that it lets the {noun} in.")
    return ""


def decide(ctx, source):
    """(in scope, reason, rows): the reason says which condition decided, the rows show every condition.

    Raises ObjectFailure when a scoping clause cannot be evaluated (a regular expression out of time): the
    object fails, it is not taken as out of scope (which would disable or delete it in the target)."""
    try:
        return _decide(ctx, source)
    except ScopingRegexTimeout as timeout:
        raise ObjectFailure(timeout.code, timeout.description, timeout.fix) from None


def _decide(ctx, source):
    mapping = ctx.object_mappings.get(source.object_type)
    noun = "user" if source.object_type == USER else "group"
    if mapping is None or not mapping.enabled:
        return False, f"{noun.capitalize()} provisioning is disabled in the Mappings of {ctx.application.name}", []
    if source.deleted == "hard":
        return False, f"the {noun} was deleted from the directory", [("Exists in source system", "Failed", "deleted permanently")]
    if source.object_type == GROUP:
        return _group(ctx, source)
    return _user(ctx, source)


def _user(ctx, source):
    assigned = source.pk in ctx.assigned_users
    decision = evaluate_scope(ctx.scoping_filters(USER), source.attributes)
    rows = [
        ("Soft-deleted in source system", "Failed" if source.deleted else "Passed", "deleted (restorable)" if source.deleted else ""),
        ("Active in source system", "Passed" if source.account_enabled else "Failed", f"accountEnabled is {display(source.account_enabled)}"),
        ("Assigned to application", "Passed" if assigned else ("Not needed" if ctx.sync_all else "Failed"), ""),
        ("Scope sync all", display(ctx.sync_all), ctx.application.get_scope_display()),
        *scoping_rows(decision),
    ]
    if source.deleted:
        return False, "the user was deleted in the directory (soft delete)", rows
    if not source.account_enabled:
        return False, "the account is disabled in the directory (accountEnabled is False)", rows
    if not (ctx.sync_all or assigned):
        return False, "the user is not assigned to the application, directly or through a group", rows
    if not decision.in_scope:
        return False, decision.reason, rows
    return True, decision.reason, rows


def _group(ctx, source):
    assigned = source.pk in ctx.assigned_groups
    decision = evaluate_scope(ctx.scoping_filters(GROUP), {k: v for k, v in source.attributes.items() if k != "members"})
    rows = [
        ("Assigned to application", "Passed" if assigned else ("Not needed" if ctx.sync_all else "Failed"), ""),
        ("Scope sync all", display(ctx.sync_all), ctx.application.get_scope_display()),
        *scoping_rows(decision),
    ]
    if source.deleted:
        return False, "the group was deleted in the directory (soft delete)", rows
    if not (ctx.sync_all or assigned):
        return False, "the group is not assigned to the application", rows
    if not decision.in_scope:
        return False, decision.reason, rows
    return True, decision.reason, rows
