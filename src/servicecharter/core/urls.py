from django.urls import path

from servicecharter.core.views import audit as audit_views
from servicecharter.core.views import calendars as calendar_views
from servicecharter.core.views import events as event_views
from servicecharter.core.views import imports as import_views
from servicecharter.core.views import notifications as notification_views

app_name = "core"
urlpatterns: list = []

urlpatterns += [
    path("calendars/", calendar_views.calendar_list, name="calendar_list"),
    path("calendars/new/", calendar_views.calendar_new, name="calendar_new"),
    path("calendars/<str:code>/", calendar_views.calendar_detail, name="calendar_detail"),
    path("calendars/<str:code>/days/", calendar_views.calendar_day_add, name="calendar_day_add"),
    path(
        "calendars/<str:code>/days/<str:day>/remove/",
        calendar_views.calendar_day_delete,
        name="calendar_day_delete",
    ),
    path(
        "calendars/<str:code>/schedule/",
        calendar_views.calendar_schedule,
        name="calendar_schedule",
    ),
]

urlpatterns += [
    path("audit/", audit_views.audit_list, name="audit"),
    path("audit/verify/", audit_views.audit_verify, name="audit_verify"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
]

urlpatterns += [
    path("imports/", import_views.import_index, name="imports"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors_csv, name="import_errors"),
    path("exports/<str:kind>.<str:fmt>", import_views.export_download, name="export"),
]

urlpatterns += [
    path("notifications/", notification_views.inbox, name="notifications"),
    path(
        "notifications/read-all/", notification_views.mark_all_read, name="notifications_read_all"
    ),
    path(
        "notifications/preferences/",
        notification_views.preferences,
        name="notification_preferences",
    ),
    path("notifications/<int:pk>/", notification_views.detail, name="notification_detail"),
    path("notifications/<int:pk>/read/", notification_views.mark_read, name="notification_read"),
]

urlpatterns += [
    path("events/dead/", event_views.dead_letters, name="events_dead"),
    path("events/dead/retry-all/", event_views.retry_all, name="events_retry_all"),
    path("events/deliveries/<int:pk>/retry/", event_views.delivery_retry, name="events_retry"),
]
