from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "servicecharter.surveys"
    label = "surveys"
    verbose_name = _("Satisfaction surveys")

    def ready(self) -> None:
        # Subscribers and periodic jobs register themselves on import.
        from servicecharter.quality import survey_facts
        from servicecharter.quality.views.mine import register_my_quality_panel
        from servicecharter.surveys import subscribers  # noqa: F401
        from servicecharter.surveys.selectors import (
            low_score_interaction_ids,
            period_tally,
            survey_feedback_panel,
        )

        # "Survey feedback about me" on the employee's "my quality" page.
        register_my_quality_panel(
            "surveys", "surveys/_my_quality_panel.html", survey_feedback_panel
        )
        # Quality sits above surveys and may not import it: it gets its survey readers here.
        survey_facts.provide(
            low_score_interaction_ids=low_score_interaction_ids, period_tally=period_tally
        )
