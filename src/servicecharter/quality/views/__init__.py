"""Quality pages, one module per concern; each keeps its own ``urlpatterns``, and
``quality/urls.py`` concatenates them: workspace (the auditor's queue and the disputes to
decide), scoring (score an evaluation beside its interaction, decide a dispute, an evaluation's
page with the employee's acknowledgement and dispute), scorecards (list, editor, version
history: MANAGE_QUALITY), mine (the employee's "my quality"), team (a supervisor's team
results)."""
