"""Django strings that Django 6.1's own Chinese catalogue lacks but our pages show.

Listed here so that ``makemessages`` keeps them in our catalogue, where they are translated.
"""

from django.utils.translation import gettext_noop

FRAMEWORK_STRINGS = (
    gettext_noop("- Select an option -"),
    gettext_noop("“%(value)s” is not a valid binary value."),
    gettext_noop("No %s matches the given query."),
)
