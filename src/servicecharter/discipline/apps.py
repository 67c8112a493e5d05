from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisciplineConfig(AppConfig):
    name = "servicecharter.discipline"
    label = "discipline"
    verbose_name = _("Accountability and rewards")

    def ready(self) -> None:
        # Violations arise from other modules' events; the worker and the web servers must
        # know the same subscribers.
        from servicecharter.discipline import (
            reward_subscribers,  # noqa: F401
            subscribers,  # noqa: F401
        )
