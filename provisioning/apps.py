from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from provisioning import directory_changes  # noqa: F401  (connects the change signals)
        from provisioning import request_metrics
        from provisioning.middleware import note_sign_in

        user_logged_in.connect(note_sign_in, dispatch_uid="provisioning.note_sign_in")
        request_metrics.connect()
