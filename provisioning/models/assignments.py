from django.db import models


class Assignment(models.Model):
    """A user or a group assigned to an application (Users and groups). Exactly one of user/group is set."""

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey("provisioning.DirectoryUser", null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey("provisioning.DirectoryGroup", null=True, blank=True, on_delete=models.CASCADE)
    role = models.CharField(max_length=64, default="User")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False, group__isnull=True) | models.Q(user__isnull=True, group__isnull=False)),
                name="assignment_user_xor_group",
            ),
            models.UniqueConstraint(fields=["application", "user"], name="unique_user_assignment"),
            models.UniqueConstraint(fields=["application", "group"], name="unique_group_assignment"),
        ]

    def __str__(self):
        return str(self.user or self.group)

    @property
    def principal(self):
        return self.user or self.group
