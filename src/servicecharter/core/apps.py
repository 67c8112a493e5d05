from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "servicecharter.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Subscribers and periodic jobs register themselves on import.
        from servicecharter.core import subscribers  # noqa: F401
