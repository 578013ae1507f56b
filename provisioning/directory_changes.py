"""What counts as a change of a directory object, so that incremental cycles see it.

An incremental cycle reads the users and groups whose `updated_at` is after its watermark, plus the
tombstones of hard deletes. A row's own save moves `updated_at`; the changes that do not touch the row
move it here: a membership added or removed (the group and the user: the user's assignment may follow
from it), an assignment added or removed, a group soft-deleted or restored (its members' assignments
through it), a manager deleted (the reports lose their manager). A hard delete leaves a
DeletedDirectoryObject behind.

Bulk writes that bypass signals (import_directory) call `touch_users` / `touch_groups` themselves.
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from provisioning.models import Assignment, DeletedDirectoryObject, DirectoryGroup, DirectoryUser

Membership = DirectoryGroup.members.through


def touch_users(pks):
    pks = list(pks)
    if pks:
        DirectoryUser.objects.filter(pk__in=pks).update(updated_at=timezone.now())
        changed()


def touch_groups(pks):
    pks = list(pks)
    if pks:
        DirectoryGroup.objects.filter(pk__in=pks).update(updated_at=timezone.now())
        changed()


def changed():
    """Once the change commits, the apps that sync changes immediately get it within seconds (engine/changes.py)."""
    transaction.on_commit(_send_change_task)


def _send_change_task():
    from provisioning import tasks
    from provisioning.engine import changes

    if changes.mark_changed():
        tasks.sync_changes.apply_async(countdown=changes.COALESCE.total_seconds())


@receiver(post_save, sender=DirectoryUser)
@receiver(post_save, sender=DirectoryGroup)
@receiver(post_delete, sender=DirectoryUser)
@receiver(post_delete, sender=DirectoryGroup)
def directory_object_changed(sender, **kwargs):
    changed()


def touch_members_of(group_pks):
    """A group was soft-deleted or restored: its members' assignments through it changed too."""
    group_pks = list(group_pks)
    if group_pks:
        touch_users(Membership.objects.filter(directorygroup_id__in=group_pks).values_list("directoryuser_id", flat=True))


@receiver(pre_save, sender=DirectoryGroup)
def group_saving(sender, instance, **kwargs):
    if instance.pk is not None:
        before = DirectoryGroup.objects.filter(pk=instance.pk).values_list("deleted_at", flat=True).first()
        instance._deletion_changed = (before is None) != (instance.deleted_at is None)


@receiver(post_save, sender=DirectoryGroup)
def group_saved(sender, instance, created, **kwargs):
    if instance.__dict__.pop("_deletion_changed", False):
        touch_members_of([instance.pk])


@receiver(m2m_changed, sender=Membership)
def membership_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear":
        # After the clear the members are gone: remember whom it concerned.
        related = instance.groups.all() if reverse else instance.members.all()
        instance._cleared_pks = set(related.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    others = instance.__dict__.pop("_cleared_pks", set()) if action == "post_clear" else set(pk_set or ())
    if reverse:  # user.groups.add(...)
        touch_users([instance.pk])
        touch_groups(others)
    else:  # group.members.add(...)
        touch_groups([instance.pk])
        touch_users(others)


@receiver(post_save, sender=Assignment)
@receiver(post_delete, sender=Assignment)
def assignment_changed(sender, instance, **kwargs):
    if instance.user_id:
        touch_users([instance.user_id])
    elif instance.group_id:
        touch_groups([instance.group_id])
        touch_users(Membership.objects.filter(directorygroup_id=instance.group_id).values_list("directoryuser_id", flat=True))


@receiver(pre_delete, sender=DirectoryUser)
def user_deleting(sender, instance, **kwargs):
    # The user's groups lose a member and the reports lose their manager; neither row is saved.
    touch_groups(Membership.objects.filter(directoryuser_id=instance.pk).values_list("directorygroup_id", flat=True))
    touch_users(DirectoryUser.objects.filter(manager_id=instance.pk).values_list("pk", flat=True))


@receiver(post_delete, sender=DirectoryUser)
def user_deleted(sender, instance, **kwargs):
    DeletedDirectoryObject.objects.create(
        object_type="user", object_id=instance.object_id, display_name=instance.display_name,
        user_principal_name=instance.user_principal_name, deleted_at=timezone.now(),
    )


@receiver(pre_delete, sender=DirectoryGroup)
def group_deleting(sender, instance, **kwargs):
    # Members of an assigned group lose that assignment.
    touch_users(Membership.objects.filter(directorygroup_id=instance.pk).values_list("directoryuser_id", flat=True))


@receiver(post_delete, sender=DirectoryGroup)
def group_deleted(sender, instance, **kwargs):
    DeletedDirectoryObject.objects.create(
        object_type="group", object_id=instance.object_id, display_name=instance.display_name, deleted_at=timezone.now(),
    )
