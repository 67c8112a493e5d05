from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "servicecharter.cases"
    label = "cases"
    verbose_name = _("Complaints and feedback")

    def ready(self) -> None:
        # Subscribers, periodic jobs, importers and exporters register themselves on import.
        from servicecharter.cases import exports, imports, subscribers  # noqa: F401
