"""gunicorn settings for `charter serve` (loaded with ``--config python:servicecharter.gunicorn_conf``;
options on the command line and in ``GUNICORN_CMD_ARGS`` still win).

Django loads the URL patterns, the JSON API's routers and a language's translations on the
first request that needs them: a second of CPU, paid by whichever caller came first to each
worker. Each worker loads them before it accepts its first connection instead.

The application is not preloaded in the master (``--preload``): then a HUP would start new
workers on the old code, and `charter serve` promises that HUP reloads.
"""

from django.conf import settings


def warm_up() -> None:
    """Load what the first request would: the URL resolver (and with it every app's views and
    the API with its routers and schemas), and the catalogue of each language offered."""
    from django.urls import get_resolver
    from django.utils import translation

    resolver = get_resolver()
    resolver.resolve("/api/cases/1")  # builds every pattern, the API's included
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Cases")


def post_worker_init(worker) -> None:
    warm_up()
