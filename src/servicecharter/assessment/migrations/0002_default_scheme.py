"""The default assessment scheme, version 1 (``assessment.defaults``)."""

from django.db import migrations

from servicecharter.assessment.defaults import (
    DEFAULT_KPIS,
    DEFAULT_MIN_KPIS,
    DEFAULT_MIN_PEERS,
    DEFAULT_SCHEME_CODE,
    DEFAULT_SCHEME_NAMES,
    DEFAULT_THRESHOLDS,
)


def create_default(apps, schema_editor):
    Scheme = apps.get_model("assessment", "Scheme")
    SchemeVersion = apps.get_model("assessment", "SchemeVersion")
    SchemeKpi = apps.get_model("assessment", "SchemeKpi")
    if Scheme.objects.filter(code=DEFAULT_SCHEME_CODE).exists():
        return
    name_en, name_zh = DEFAULT_SCHEME_NAMES
    scheme = Scheme.objects.create(code=DEFAULT_SCHEME_CODE, name_en=name_en, name_zh=name_zh)
    version = SchemeVersion.objects.create(
        scheme=scheme,
        number=1,
        min_kpis=DEFAULT_MIN_KPIS,
        min_peers=DEFAULT_MIN_PEERS,
        **DEFAULT_THRESHOLDS,
    )
    SchemeKpi.objects.bulk_create(
        [
            SchemeKpi(version=version, kpi=kpi, weight=weight, min_sample=min_sample)
            for kpi, weight, min_sample in DEFAULT_KPIS
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("assessment", "0001_schemes_periods_scorecards")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
