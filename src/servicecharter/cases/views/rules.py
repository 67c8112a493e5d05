"""The case-rules pages: routing rules, profile rules, custom regulatory profiles, response
letters, case settings, and the complaint taxonomy.

Anyone holding MANAGE_CASE_RULES may read the rules; only an institution-wide holder (a grant
on a root department) may change them, since they apply to every queue. Everyone who may see
cases may browse the taxonomy. Writes go through ``cases.rules_services``; a refusal is shown
beside the field it concerns and nothing is saved.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.cases import rules_services as rules
from servicecharter.cases.choices import CategoryAxis, TaxonomyScheme
from servicecharter.cases.deadlines import clock_statuses
from servicecharter.cases.models import (
    CaseSettings,
    Category,
    CustomProfile,
    ProfileRule,
    ResponseTemplate,
    RoutingRule,
)
from servicecharter.cases.profiles import (
    PROFILES,
    Approver,
    DayUnit,
    PauseReason,
    ProfileError,
    profile_from_dict,
)
from servicecharter.cases.rules_forms import (
    CaseSettingsForm,
    CustomProfileForm,
    ProfileRuleForm,
    ResponseTemplateForm,
    RoutingRuleForm,
    StartFromForm,
    TaxonomyFilterForm,
    definition_text,
)
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.selectors import holds_institution_wide


def can_change_rules(user) -> bool:
    return holds_institution_wide(user, perms.MANAGE_CASE_RULES)


def rules_reader(view):
    """Signed in and holding MANAGE_CASE_RULES somewhere; otherwise 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_capability(request.user, perms.MANAGE_CASE_RULES):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def rules_editor(view):
    """Holding MANAGE_CASE_RULES for the whole institution; otherwise 403."""

    @rules_reader
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_change_rules(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _page(request, template: str, section: str, **context):
    return render(
        request,
        template,
        {
            "section": section,
            "can_change": can_change_rules(request.user),
            "can_read_rules": True,
            **context,
        },
    )


def _save(request, form, write, success: str):
    """Run the service ``write``; its refusal is shown beside the field. The saved object, or
    None when the form must be shown again."""
    try:
        saved = write()
    except ValidationError as error:
        apply_service_errors(form, error)
        return None
    messages.success(request, success)
    return saved


def _delete(request, write, success: str, back: str):
    try:
        write()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    if request.htmx:  # asked from a confirm dialog: the browser loads the list again
        return HttpResponseClientRedirect(reverse(back))
    return redirect(back)


def _optional_priority(data: dict) -> dict:
    """An empty priority means "last": the service then picks the next free number."""
    if data.get("priority") is None:
        data.pop("priority", None)
    return data


# --- routing rules -----------------------------------------------------------------------------


def _routing_rules():
    return RoutingRule.objects.select_related("department", "business_type").order_by(
        "priority", "id"
    )


@rules_reader
def routing_rules(request):
    return _page(request, "cases/rules.html", "routing", rules=_routing_rules())


@rules_editor
def routing_rule_create(request):
    form = RoutingRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = _optional_priority(dict(form.cleaned_data))
        if _save(request, form, lambda: rules.routing_rule_create(**data), _("Rule created.")):
            return redirect("cases:rules")
    return _page(
        request, "cases/rules_form.html", "routing", form=form, title=_("New routing rule")
    )


@rules_editor
def routing_rule_edit(request, pk: int):
    rule = get_object_or_404(RoutingRule, pk=pk)
    form = RoutingRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("priority") is None:
            data["priority"] = rule.priority
        write = lambda: rules.routing_rule_update(rule=rule, **data)  # noqa: E731
        if _save(request, form, write, _("Rule saved.")):
            return redirect("cases:rules")
    title = _("Edit the routing rule “%(name)s”") % {"name": rule.name}
    return _page(request, "cases/rules_form.html", "routing", form=form, title=title)


@rules_editor
@require_POST
def routing_rule_delete(request, pk: int):
    rule = get_object_or_404(RoutingRule, pk=pk)
    write = lambda: rules.routing_rule_delete(rule=rule)  # noqa: E731
    return _delete(request, write, _("Rule deleted."), "cases:rules")


@rules_editor
@require_POST
def routing_rule_move(request, pk: int):
    rule = get_object_or_404(RoutingRule, pk=pk)
    rules.routing_rule_move(rule=rule, up=request.POST.get("direction") == "up")
    if request.htmx:
        return _page(request, "cases/rules.html#table", "routing", rules=_routing_rules())
    return redirect("cases:rules")


# --- profile rules, custom and shipped profiles -------------------------------------------------


def _profile_rules():
    return ProfileRule.objects.select_related("business_type").order_by("priority", "id")


def clock_rows(profile) -> list[dict]:
    """Each clock of ``profile`` in words, with the deadline of a complaint received now."""
    now = timezone.now()
    try:
        dues = {
            status.clock.key: status.due.at
            for status in clock_statuses(profile=profile, received_at=now, as_of=now)
        }
    except (LookupError, ValueError):  # a calendar that no longer exists
        dues = {}
    return [
        {
            "label": clock.label,
            "length": clock.length,
            "unit": DayUnit(clock.unit).label,
            "calendar": clock.calendar,
            "is_window": clock.is_window,
            "restarts_on_new_facts": clock.restarts_on_new_facts,
            "due": dues.get(clock.key),
            "pauses": [str(PauseReason(reason).label) for reason in sorted(clock.pause_reasons)],
            "extensions": [
                {
                    "label": extension.label,
                    "length": extension.length,
                    "approver": Approver(extension.approver).label if extension.approver else "",
                }
                for extension in clock.extensions
            ],
        }
        for clock in profile.clocks
    ]


def _profiles_context() -> dict:
    labels = dict(rules.profile_choices())
    return {
        "profile_rules": [
            (rule, labels.get(rule.profile_key, rule.profile_key)) for rule in _profile_rules()
        ],
        "custom_profiles": CustomProfile.objects.order_by("key"),
        "shipped_profiles": [
            {
                "key": profile.key,
                "label": profile.label,
                "source": profile.source,
                "clocks": clock_rows(profile),
            }
            for profile in PROFILES.values()
        ],
    }


@rules_reader
def profiles(request):
    return _page(request, "cases/rules_profiles.html", "profiles", **_profiles_context())


@rules_editor
def profile_rule_create(request):
    form = ProfileRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = _optional_priority(dict(form.cleaned_data))
        if _save(request, form, lambda: rules.profile_rule_create(**data), _("Rule created.")):
            return redirect("cases:rules_profiles")
    return _page(
        request, "cases/rules_form.html", "profiles", form=form, title=_("New profile rule")
    )


@rules_editor
def profile_rule_edit(request, pk: int):
    rule = get_object_or_404(ProfileRule, pk=pk)
    form = ProfileRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("priority") is None:
            data["priority"] = rule.priority
        write = lambda: rules.profile_rule_update(rule=rule, **data)  # noqa: E731
        if _save(request, form, write, _("Rule saved.")):
            return redirect("cases:rules_profiles")
    return _page(
        request, "cases/rules_form.html", "profiles", form=form, title=_("Edit the profile rule")
    )


@rules_editor
@require_POST
def profile_rule_delete(request, pk: int):
    rule = get_object_or_404(ProfileRule, pk=pk)
    write = lambda: rules.profile_rule_delete(rule=rule)  # noqa: E731
    return _delete(request, write, _("Rule deleted."), "cases:rules_profiles")


@rules_editor
@require_POST
def profile_rule_move(request, pk: int):
    rule = get_object_or_404(ProfileRule, pk=pk)
    rules.profile_rule_move(rule=rule, up=request.POST.get("direction") == "up")
    if request.htmx:
        return _page(
            request, "cases/rules_profiles.html#rule_table", "profiles", **_profiles_context()
        )
    return redirect("cases:rules_profiles")


def _preview_clocks(definition: dict, key: str) -> list:
    """The clocks of the definition in words, when it is usable."""
    try:
        return clock_rows(profile_from_dict({**definition, "key": key or "preview"}))
    except ProfileError:
        return []


def _custom_profile_page(request, form, *, profile=None, start_form=None):
    definition = form.cleaned_data.get("definition") if form.is_bound and form.is_valid() else None
    if definition is None and profile is not None:
        definition = profile.definition
    title = (
        _("Custom profile “%(key)s”") % {"key": profile.key}
        if profile
        else _("New custom regulatory profile")
    )
    return _page(
        request,
        "cases/rules_profile_form.html",
        "profiles",
        form=form,
        profile=profile,
        start_form=start_form,
        title=title,
        preview=_preview_clocks(definition, form["key"].value()) if definition else [],
    )


@rules_editor
def custom_profile_create(request):
    if request.method == "POST":
        form = CustomProfileForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            saved = _save(
                request,
                form,
                lambda: rules.custom_profile_save(
                    key=data["key"], definition=data["definition"], is_active=data["is_active"]
                ),
                _("Profile saved."),
            )
            if saved:
                return redirect("cases:custom_profile_edit", pk=saved.pk)
        return _custom_profile_page(request, form)
    start_form = StartFromForm(request.GET or None)
    start = start_form.cleaned_data.get("start_from") if start_form.is_valid() else ""
    definition = (
        rules.profile_to_dict(PROFILES[start])
        if start
        else {"label_en": "", "label_zh": "", "source": "", "clocks": []}
    )
    form = CustomProfileForm(
        initial={"key": "", "definition": definition_text(definition), "is_active": True}
    )
    return _custom_profile_page(request, form, start_form=start_form)


@rules_editor
def custom_profile_edit(request, pk: int):
    profile = get_object_or_404(CustomProfile, pk=pk)
    if request.method == "POST":
        form = CustomProfileForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            saved = _save(
                request,
                form,
                lambda: rules.custom_profile_save(
                    key=data["key"],
                    definition=data["definition"],
                    is_active=data["is_active"],
                    profile=profile,
                ),
                _("Profile saved."),
            )
            if saved:
                return redirect("cases:custom_profile_edit", pk=saved.pk)
        return _custom_profile_page(request, form, profile=profile)
    form = CustomProfileForm(
        initial={
            "key": profile.key,
            "definition": definition_text(profile.definition),
            "is_active": profile.is_active,
        }
    )
    return _custom_profile_page(request, form, profile=profile)


@rules_editor
@require_POST
def custom_profile_delete(request, pk: int):
    profile = get_object_or_404(CustomProfile, pk=pk)
    write = lambda: rules.custom_profile_delete(profile=profile)  # noqa: E731
    return _delete(request, write, _("Profile deleted."), "cases:rules_profiles")


# --- response letters ----------------------------------------------------------------------------


@rules_reader
def letters(request):
    return _page(
        request,
        "cases/rules_letters.html",
        "letters",
        letters=ResponseTemplate.objects.order_by("language", "outcome", "name"),
    )


def _letter_page(request, form, title: str, letter=None):
    return _page(
        request, "cases/rules_letter_form.html", "letters", form=form, title=title, letter=letter
    )


@rules_editor
def letter_create(request):
    form = ResponseTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        write = lambda: rules.response_template_create(**data)  # noqa: E731
        if _save(request, form, write, _("Letter saved.")):
            return redirect("cases:rules_letters")
    return _letter_page(request, form, _("New response letter"))


@rules_editor
def letter_edit(request, pk: int):
    letter = get_object_or_404(ResponseTemplate, pk=pk)
    form = ResponseTemplateForm(request.POST or None, instance=letter)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        write = lambda: rules.response_template_update(template=letter, **data)  # noqa: E731
        if _save(request, form, write, _("Letter saved.")):
            return redirect("cases:rules_letters")
    title = _("Edit the letter “%(name)s”") % {"name": letter.name}
    return _letter_page(request, form, title, letter=letter)


@rules_editor
@require_POST
def letter_delete(request, pk: int):
    letter = get_object_or_404(ResponseTemplate, pk=pk)
    write = lambda: rules.response_template_delete(template=letter)  # noqa: E731
    return _delete(request, write, _("Letter deleted."), "cases:rules_letters")


@rules_reader
@require_POST
def letter_preview(request):
    """The letter as a customer would read it, with made-up case details (HTMX partial)."""
    body = request.POST.get("body", "")
    language = request.POST.get("language") or "en"
    if language not in dict(ResponseTemplate._meta.get_field("language").choices):
        language = "en"
    outcome = request.POST.get("outcome", "")
    if outcome not in dict(ResponseTemplate._meta.get_field("outcome").choices):
        outcome = ""
    problems = rules.letter_problems(body)
    text = "" if problems else body.format_map(rules.sample_letter_values(language, outcome))
    return render(
        request,
        "cases/rules_letter_preview.html",
        {"problems": problems, "text": text, "language": language},
    )


# --- settings ------------------------------------------------------------------------------------


@rules_reader
def settings_page(request):
    current = CaseSettings.current()
    editable = can_change_rules(request.user)
    form = CaseSettingsForm(request.POST or None, instance=current)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if form.is_valid():
            data = dict(form.cleaned_data)
            write = lambda: rules.case_settings_save(**data)  # noqa: E731
            if _save(request, form, write, _("Settings saved.")):
                return redirect("cases:rules_settings")
    return _page(request, "cases/rules_settings.html", "settings", form=form, editable=editable)


# --- taxonomy ------------------------------------------------------------------------------------


def taxonomy_reader(view):
    """Everyone who sees cases or manages their rules may browse the taxonomy."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (
            has_capability(user, perms.VIEW_CASES) or has_capability(user, perms.MANAGE_CASE_RULES)
        ):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# Which axes each taxonomy has, in the order they are shown.
SCHEME_AXES = {
    TaxonomyScheme.JRT0169: (CategoryAxis.BUSINESS_TYPE, CategoryAxis.CAUSE),
    TaxonomyScheme.CFPB: (CategoryAxis.PRODUCT,),
}


def _matches(category: Category, query: str) -> bool:
    query = query.casefold()
    return any(
        query in text.casefold() for text in (category.code, category.name_en, category.name_zh)
    )


@taxonomy_reader
def taxonomy(request):
    """One taxonomy as trees, one per axis (the CFPB issues under their products). A search
    keeps the categories that match, their parents, and every child of a matching parent."""
    form = TaxonomyFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    scheme = filters.get("scheme") or TaxonomyScheme.JRT0169
    query = filters.get("q", "")
    categories = list(Category.objects.filter(scheme=scheme, is_active=True).order_by("code"))
    children: dict[int | None, list] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    trees, shown = [], 0
    for axis in SCHEME_AXES[scheme]:
        nodes = []
        for root in (c for c in children.get(None, []) if c.axis == axis):
            kids = children.get(root.pk, [])
            if query and not _matches(root, query):
                kids = [kid for kid in kids if _matches(kid, query)]
                if not kids:
                    continue
            nodes.append({"category": root, "children": kids})
            shown += 1 + len(kids)
        trees.append({"axis": CategoryAxis(axis).label, "nodes": nodes})
    return render(
        request,
        "cases/rules_taxonomy.html",
        {
            "form": form,
            "scheme": TaxonomyScheme(scheme),
            "schemes": TaxonomyScheme.choices,
            "trees": trees,
            "query": query,
            "total": shown,
            "section": "taxonomy",
            "can_change": can_change_rules(request.user),
            "can_read_rules": has_capability(request.user, perms.MANAGE_CASE_RULES),
        },
    )


urlpatterns = [
    path("rules/", routing_rules, name="rules"),
    path("rules/routing/new/", routing_rule_create, name="routing_rule_create"),
    path("rules/routing/<int:pk>/edit/", routing_rule_edit, name="routing_rule_edit"),
    path("rules/routing/<int:pk>/delete/", routing_rule_delete, name="routing_rule_delete"),
    path("rules/routing/<int:pk>/move/", routing_rule_move, name="routing_rule_move"),
    path("rules/profiles/", profiles, name="rules_profiles"),
    path("rules/profile-rules/new/", profile_rule_create, name="profile_rule_create"),
    path("rules/profile-rules/<int:pk>/edit/", profile_rule_edit, name="profile_rule_edit"),
    path("rules/profile-rules/<int:pk>/delete/", profile_rule_delete, name="profile_rule_delete"),
    path("rules/profile-rules/<int:pk>/move/", profile_rule_move, name="profile_rule_move"),
    path("rules/profiles/new/", custom_profile_create, name="custom_profile_create"),
    path("rules/profiles/<int:pk>/", custom_profile_edit, name="custom_profile_edit"),
    path("rules/profiles/<int:pk>/delete/", custom_profile_delete, name="custom_profile_delete"),
    path("rules/letters/", letters, name="rules_letters"),
    path("rules/letters/new/", letter_create, name="letter_create"),
    path("rules/letters/<int:pk>/", letter_edit, name="letter_edit"),
    path("rules/letters/<int:pk>/delete/", letter_delete, name="letter_delete"),
    path("rules/letters/preview/", letter_preview, name="letter_preview"),
    path("rules/settings/", settings_page, name="rules_settings"),
    path("taxonomy/", taxonomy, name="taxonomy"),
]
