"""Ship the two default complaint taxonomies (JR/T 0169-2018 and the CFPB product / issue tree)
and the default response letters (English and Chinese, one per outcome) on every database.
Both loaders create only what is missing, so running them again changes nothing."""

from django.db import migrations


def load_defaults(apps, schema_editor):
    from servicecharter.cases.rules_services import response_templates_seed
    from servicecharter.cases.taxonomy import taxonomy_load

    taxonomy_load(category_model=apps.get_model("cases", "Category"))
    response_templates_seed(template_model=apps.get_model("cases", "ResponseTemplate"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_defaults, migrations.RunPython.noop),
    ]
