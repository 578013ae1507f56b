"""TargetAnchor becomes ExportState (Entra's connector data store): the same links, plus what was exported."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0005_log_upn_index")]

    operations = [
        migrations.RemoveConstraint(model_name="targetanchor", name="unique_anchor"),
        migrations.RenameModel("TargetAnchor", "ExportState"),
    ]
