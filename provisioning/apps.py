from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self):
        from provisioning import directory_changes  # noqa: F401  (connects the change signals)
        from provisioning import request_metrics

        request_metrics.connect()
