"""The customer's pages, no sign-in: the feedback form, and following a case with its reference
and tracking code.

- Both languages: ``?lang=en`` / ``?lang=zh-hans`` on any of these pages switches (and a cookie
  keeps the choice); a case takes the language of the page it was filed on.
- Robots: a honeypot field (filled → the page pretends success and stores nothing) and a
  limit of forms per address and hour (HTTP 429 beyond it).
- Privacy: a wrong tracking code gets exactly the page an unknown reference gets, and wrong
  guesses are limited per address. After a good check the case is remembered in the session
  (its reference and the code's digest), so the later forms carry no code. The customer sees
  the institution only as "Customer service", never a staff name nor an internal note.
"""

import secrets
from datetime import timedelta
from functools import partial, wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from servicecharter.cases import services
from servicecharter.cases.choices import CaseState, MessageDirection
from servicecharter.cases.forms import (
    CustomerAnswerForm,
    CustomerMessageForm,
    PublicCaseForm,
    TrackingForm,
)
from servicecharter.cases.models import Attachment, Case
from servicecharter.cases.selectors import case_for_tracking
from servicecharter.cases.workflow import TransitionRefused
from servicecharter.core.middleware import client_ip
from servicecharter.core.throttle import throttle_exceeded, throttle_hit
from servicecharter.org.choices import Channel

# The web form has no channel of its own among the JR/T 0169 channels: it is the online
# self-service channel it shares with the app, and the source system says it was the web form.
PUBLIC_CHANNEL = Channel.APP
PUBLIC_SOURCE = "web_form"

# Per address: forms sent per hour, wrong tracking guesses per 15 minutes, messages per hour.
FORM_LIMIT = ("cases.public_form", 5, timedelta(hours=1))
TRACKING_LIMIT = ("cases.tracking_failure", 10, timedelta(minutes=15))
MESSAGE_LIMIT = ("cases.public_message", 20, timedelta(hours=1))

SESSION_RECEIPT = "public_receipt"
SESSION_TRACKED = "public_tracked_cases"
LANGUAGES = {code for code, _name in settings.LANGUAGES}

# What the customer reads for each state: plain words, not the handlers' workflow terms.
CUSTOMER_STATUS = {
    CaseState.RECEIVED: (
        gettext_lazy("Received"),
        gettext_lazy("We have received your case and will look at it shortly."),
    ),
    CaseState.ACKNOWLEDGED: (
        gettext_lazy("Received"),
        gettext_lazy("We have received your case and will look at it shortly."),
    ),
    CaseState.IN_PROGRESS: (
        gettext_lazy("Being handled"),
        gettext_lazy("Someone is working on your case."),
    ),
    CaseState.ESCALATED: (
        gettext_lazy("Being handled"),
        gettext_lazy("Someone is working on your case."),
    ),
    CaseState.REOPENED: (
        gettext_lazy("Being handled again"),
        gettext_lazy("We are looking at your case again and will send you a new response."),
    ),
    CaseState.AWAITING_CUSTOMER: (
        gettext_lazy("Waiting for you"),
        gettext_lazy("We need something from you: read our message below and add it here."),
    ),
    CaseState.RESPONDED: (
        gettext_lazy("Answered"),
        gettext_lazy("We have sent our final response. Please tell us whether you accept it."),
    ),
    CaseState.CLOSED: (gettext_lazy("Closed"), gettext_lazy("Your case is closed.")),
}


def public_page(view):
    """No cache; ``?lang=`` switches the language for this page and, by cookie, the next ones,
    so a customer without an account can choose it."""

    @wraps(view)
    @never_cache
    def wrapped(request, *args, **kwargs):
        language = request.GET.get("lang", "")
        if language not in LANGUAGES:
            return view(request, *args, **kwargs)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = view(request, *args, **kwargs)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE or None,
        )
        return response

    return wrapped


def _limited(request, limit: tuple) -> bool:
    scope, count, window = limit
    return throttle_exceeded(scope=scope, key=client_ip(request), limit=count, window=window)


def _count(request, limit: tuple) -> None:
    throttle_hit(scope=limit[0], key=client_ip(request))


# --- mail ------------------------------------------------------------------------------------


def tracking_link(request, *, reference: str, code: str, language: str) -> str:
    query = urlencode({"reference": reference, "code": code, "lang": language})
    return request.build_absolute_uri(f"{reverse('public:track')}?{query}")


def _send_receipt(*, to: str, reference: str, link: str, language: str) -> None:
    with translation.override(language):
        subject = _("Your case %(ref)s") % {"ref": reference}
        body = render_to_string(
            "cases/public/email_receipt.txt", {"reference": reference, "link": link}
        )
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()


def mail_receipt(request, *, case: Case, code: str) -> None:
    """Mail the customer the reference and the tracking link, in the case's language, once the
    transaction that recorded the case has committed."""
    link = tracking_link(request, reference=case.reference, code=code, language=case.language)
    send = partial(
        _send_receipt,
        to=case.contact_email,
        reference=case.reference,
        link=link,
        language=case.language,
    )
    transaction.on_commit(send, robust=True)


# --- the form ----------------------------------------------------------------------------------


def _remember(request, case: Case) -> None:
    """Let this browser follow ``case`` without the code (a new session key: no fixation)."""
    tracked = dict(request.session.get(SESSION_TRACKED, {}))
    tracked[case.reference] = case.tracking_digest
    request.session.cycle_key()
    request.session[SESSION_TRACKED] = tracked


def _tracked_case(request, reference: str) -> Case | None:
    digest = request.session.get(SESSION_TRACKED, {}).get(reference, "")
    if not digest:
        return None
    case = Case.objects.filter(reference=reference).first()
    if case is None or not constant_time_compare(case.tracking_digest, digest):
        return None
    return case


def _record(request, form: PublicCaseForm) -> services.Intake:
    with transaction.atomic():
        intake = services.case_create(
            actor=None, channel=PUBLIC_CHANNEL, external_system=PUBLIC_SOURCE, **form.case_fields()
        )
        for upload in form.cleaned_data["attachments"]:
            services.case_add_attachment(actor=None, case=intake.case, upload=upload)
        if intake.case.contact_email:
            mail_receipt(request, case=intake.case, code=intake.tracking_code)
    return intake


def _decoy_receipt() -> dict:
    """What a robot that filled the honeypot is shown: a plausible receipt for nothing."""
    now = timezone.now()
    reference = services.reference_for(secrets.randbelow(10**7), now)
    return {"reference": reference, "code": services.tracking_code_new(), "link": ""}


@public_page
@require_http_methods(["GET", "POST"])
def feedback_form(request):
    form = PublicCaseForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if _limited(request, FORM_LIMIT):
            return render(
                request, "cases/public/form.html", {"form": form, "throttled": True}, status=429
            )
        if form.is_valid():
            _count(request, FORM_LIMIT)
            if form.is_robot():
                request.session[SESSION_RECEIPT] = _decoy_receipt()
                return redirect("public:thanks")
            intake = _record(request, form)
            case = intake.case
            request.session[SESSION_RECEIPT] = {
                "reference": case.reference,
                "code": intake.tracking_code,
                "link": tracking_link(
                    request,
                    reference=case.reference,
                    code=intake.tracking_code,
                    language=case.language,
                ),
                "emailed": bool(case.contact_email),
            }
            _remember(request, case)
            return redirect("public:thanks")
    return render(request, "cases/public/form.html", {"form": form})


@public_page
def thanks(request):
    """The reference and the tracking code, shown once: the session forgets them here."""
    receipt = request.session.pop(SESSION_RECEIPT, None)
    return render(request, "cases/public/thanks.html", {"receipt": receipt})


# --- following a case ------------------------------------------------------------------------


@public_page
@require_http_methods(["GET", "POST"])
def track(request):
    """Reference and code, typed in or from the mailed link. Unknown reference and wrong code
    get the very same page; failures from one address are limited."""
    bound = request.method == "POST" or "code" in request.GET
    if not bound:
        form = TrackingForm(initial={"reference": request.GET.get("reference", "")[:20]})
        return render(request, "cases/public/track.html", {"form": form})
    if _limited(request, TRACKING_LIMIT):
        context = {"form": TrackingForm(), "throttled": True}
        return render(request, "cases/public/track.html", context, status=429)
    form = TrackingForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return render(request, "cases/public/track.html", {"form": form})
    try:
        case = case_for_tracking(
            reference=form.cleaned_data["reference"], code=form.cleaned_data["code"]
        )
    except Http404:
        _count(request, TRACKING_LIMIT)
        # A fresh form: echoing what was typed would make the two answers differ.
        return render(request, "cases/public/track.html", {"form": TrackingForm(), "failed": True})
    _remember(request, case)
    return redirect("public:case", reference=case.reference)


def _final_response_message(case: Case):
    """The message the final response was sent as (shown apart, not twice)."""
    if not case.responded_at or case.state not in (CaseState.RESPONDED, CaseState.CLOSED):
        return None
    return next(
        (
            message
            for message in case.customer_messages
            if message.direction == MessageDirection.TO_CUSTOMER and message.at == case.responded_at
        ),
        None,
    )


def _case_page(request, case: Case, *, message_form=None, answer_form=None, status=200, **extra):
    case.customer_messages = list(case.messages.exclude(direction=MessageDirection.INTERNAL))
    final = _final_response_message(case)
    label, explanation = CUSTOMER_STATUS[case.state]
    context = {
        "case": case,
        "status_label": label,
        "status_explanation": explanation,
        "conversation": [message for message in case.customer_messages if message is not final],
        "final_response": case.response_text if final is not None else "",
        "their_attachments": list(case.attachments.filter(from_customer=True)),
        "our_attachments": list(case.attachments.filter(_SENT_TO_CUSTOMER)),
        "can_add": case.state != CaseState.CLOSED,
        "can_answer": case.state == CaseState.RESPONDED,
        "message_form": message_form or CustomerMessageForm(),
        "answer_form": answer_form or CustomerAnswerForm(),
        **extra,
    }
    return render(request, "cases/public/case.html", context, status=status)


def _not_tracked(reference: str):
    return redirect(f"{reverse('public:track')}?{urlencode({'reference': reference})}")


@public_page
def case_view(request, reference: str):
    case = _tracked_case(request, reference)
    if case is None:
        return _not_tracked(reference)
    return _case_page(request, case)


@public_page
@require_POST
def case_message(request, reference: str):
    """The customer adds information: a message and files. A case waiting for the customer
    goes back to its handler (and its clock runs again)."""
    case = _tracked_case(request, reference)
    if case is None:
        return _not_tracked(reference)
    form = CustomerMessageForm(request.POST, request.FILES)
    if _limited(request, MESSAGE_LIMIT):
        return _case_page(request, case, message_form=form, status=429, throttled=True)
    if case.state == CaseState.CLOSED:
        messages.error(request, _("This case is closed. To tell us more, send a new form."))
        return redirect("public:case", reference=reference)
    if not form.is_valid():
        return _case_page(request, case, message_form=form)
    _count(request, MESSAGE_LIMIT)
    with transaction.atomic():
        message = services.case_add_message(
            actor=None,
            case=case,
            body=form.cleaned_data["body"],
            direction=MessageDirection.FROM_CUSTOMER,
        )
        for upload in form.cleaned_data["attachments"]:
            services.case_add_attachment(actor=None, case=case, upload=upload, message=message)
        if case.state == CaseState.AWAITING_CUSTOMER:
            services.case_customer_replied(actor=None, case=case)
    messages.success(request, _("Thank you. We have added this to your case."))
    return redirect("public:case", reference=reference)


@public_page
@require_POST
def case_answer(request, reference: str):
    """Accept the final response (the case closes) or reject it with a reason (it reopens)."""
    case = _tracked_case(request, reference)
    if case is None:
        return _not_tracked(reference)
    form = CustomerAnswerForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, answer_form=form)
    accepted = form.cleaned_data["accepted"]
    try:
        services.case_customer_answer(
            case=case, accepted=accepted, comment=form.cleaned_data["comment"]
        )
    except TransitionRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            _("Thank you. Your case is now closed.")
            if accepted
            else _("We have reopened your case and will send you a new response."),
        )
    return redirect("public:case", reference=reference)


# Files the customer may download: their own, and those the institution attached to a message
# it sent them. Files staff attached to the case file or to an internal note stay internal.
_SENT_TO_CUSTOMER = Q(from_customer=False, message__direction=MessageDirection.TO_CUSTOMER)


@public_page
def case_file(request, reference: str, attachment_id: int):
    """One of the case's files for the customer who follows it, as a download."""
    case = _tracked_case(request, reference)
    if case is None:
        return _not_tracked(reference)
    attachment = (
        Attachment.objects.filter(Q(from_customer=True) | _SENT_TO_CUSTOMER)
        .filter(case=case, pk=attachment_id)
        .first()
    )
    if attachment is None:
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@public_page
@require_POST
def case_leave(request, reference: str):
    """Forget the case in this browser (on a shared device)."""
    tracked = dict(request.session.get(SESSION_TRACKED, {}))
    tracked.pop(reference, None)
    request.session[SESSION_TRACKED] = tracked
    return redirect("public:track")


urlpatterns: list = [
    path("", feedback_form, name="form"),
    path("thanks/", thanks, name="thanks"),
    path("track/", track, name="track"),
    path("case/<str:reference>/", case_view, name="case"),
    path("case/<str:reference>/message/", case_message, name="case_message"),
    path("case/<str:reference>/answer/", case_answer, name="case_answer"),
    path("case/<str:reference>/leave/", case_leave, name="case_leave"),
    path("case/<str:reference>/files/<int:attachment_id>/", case_file, name="case_file"),
]
