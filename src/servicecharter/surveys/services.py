"""Writes of the surveys module: survey rules, dispatch, the outbox, responses and rollups.

Dispatch
    ``survey_dispatch_interactions`` (after an ingest batch, from the ``interactions.ingested``
    event) and ``survey_dispatch_case`` (from ``case.closed``) pick what to survey in a few
    set-based queries: the first matching active rule (most specific first), a sampling draw
    seeded by the interaction's or case's id (the same id always draws the same way), and the
    fatigue limit (at most one invitation per customer within the rule's number of days, across
    all rules; the ``invitation_fatigue`` index answers it). Only customers with an email
    address are invited, since the outbox sends email. One invitation per interaction and per
    case at most (database constraints), so a dispatch that runs twice invites nobody twice.

Invitations and their links
    The link carries a token; the database keeps only its SHA-256 digest. The token is an HMAC
    (keyed by SECRET_KEY) of the invitation's fixed fields, so the worker can put it into the
    message when it sends it without the token ever being stored: the outbox body holds a
    placeholder instead. A link is single-use and expires after the rule's number of days.

Outbox
    Messages are written with the invitations and sent by the worker's periodic job through
    Django's configured mail backend (console by default, SMTP with ``EMAIL_BACKEND=smtp``).
    A failed send keeps its error in ``last_error`` and is retried later with a growing pause,
    up to ``OUTBOX_MAX_ATTEMPTS``; then it is marked failed. Delivery is at least once: a worker
    that dies after the mail left but before its transaction committed sends it again.

Responses and rollups
    ``survey_respond`` stores the answer attributed to the invitation's interaction or case,
    employee, department and channel, and adds it, in the same transaction, to the rollup rows
    of the invitation's day and month (upserts): ``DailyRollup`` (day × department × employee ×
    channel, staff key 0 for no one), ``MonthlyRollup`` (month × department × channel) and
    ``MonthlyStaffRollup`` (month × department × employee × channel). Result pages read only
    the rollups. ``rollup_rebuild`` recomputes them for a range of days from the invitations
    and responses (after a bulk load, or to check them).
"""

import hashlib
import logging
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import (
    Count,
    Exists,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from servicecharter.cases.models import Case
from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.core.templatetags.formatting import localdate
from servicecharter.interactions.choices import InteractionOutcome
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Language
from servicecharter.org.models import BusinessType
from servicecharter.surveys.choices import InvitationState, OutboxState, SurveyTrigger
from servicecharter.surveys.models import (
    DailyRollup,
    Invitation,
    MonthlyRollup,
    MonthlyStaffRollup,
    OutboxMessage,
    Response,
    SurveyRule,
)

logger = logging.getLogger(__name__)

# Interactions older than this when dispatch sees them (a backfill of last year's calls) are
# not surveyed: a customer asked about a call long forgotten gives no useful answer.
INTERACTION_MAX_AGE = timedelta(days=7)
OUTBOX_MAX_ATTEMPTS = 6
OUTBOX_BATCH = 50
# The pause before the n-th retry: 1, 2, 4, 8, 16 minutes.
OUTBOX_FIRST_PAUSE = timedelta(minutes=1)
LINK_PLACEHOLDER = "{survey_link}"
TOKEN_SALT = "servicecharter.surveys.invitation"
COMMENT_MAX_LENGTH = 2_000
ROLLUP_COUNTERS = (
    "invited",
    "answered",
    "csat_n",
    "csat_sum",
    "csat_satisfied",
    "nps_n",
    "nps_promoters",
    "nps_detractors",
    "effort_n",
    "effort_sum",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvitationClosed(Exception):
    """The link was answered already, or it expired. ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- rules ---------------------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "trigger",
    "channel",
    "business_type",
    "sampling_rate",
    "fatigue_days",
    "valid_days",
    "ask_csat",
    "ask_nps",
    "ask_effort",
    "ask_comment",
    "is_active",
)


def _check_rule(fields: dict) -> None:
    errors = {}
    if not (fields.get("name") or "").strip():
        errors["name"] = _("Give the rule a name.")
    if fields.get("trigger") not in SurveyTrigger.values:
        errors["trigger"] = _("Choose when the survey is sent.")
    rate = fields.get("sampling_rate")
    if rate is None or not 0 <= rate <= 100:
        errors["sampling_rate"] = _("The sampling rate is a percentage from 0 to 100.")
    valid_days = fields.get("valid_days")
    if valid_days is None or not 1 <= valid_days <= 90:
        errors["valid_days"] = _("A link stays valid from 1 to 90 days.")
    fatigue = fields.get("fatigue_days")
    if fatigue is None or not 0 <= fatigue <= 365:
        errors["fatigue_days"] = _("The fatigue limit is from 0 to 365 days.")
    if not (fields.get("ask_csat") or fields.get("ask_nps") or fields.get("ask_effort")):
        errors["ask_csat"] = _("Ask at least one of satisfaction, recommendation or effort.")
    if errors:
        raise ValidationError(errors)


def _jsonable(value):
    return getattr(value, "pk", value)


@transaction.atomic
def survey_rule_create(*, actor, **fields) -> SurveyRule:
    """A new survey rule; ``fields`` are the model's (see ``RULE_FIELDS``)."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown survey rule fields: {sorted(unknown)}")
    defaults = {field.name: field.get_default() for field in SurveyRule._meta.concrete_fields}
    values = {name: fields.get(name, defaults.get(name)) for name in RULE_FIELDS}
    values["name"] = (values["name"] or "").strip()
    values["channel"] = values["channel"] or ""
    _check_rule(values)
    rule = SurveyRule.objects.create(**values)
    audit_record(
        action="surveys.rule_create",
        obj=rule,
        changes={name: [None, _jsonable(value)] for name, value in values.items()},
    )
    return rule


@transaction.atomic
def survey_rule_update(*, actor, rule: SurveyRule, **fields) -> SurveyRule:
    """Change a rule. Invitations already sent keep the questions they were sent with."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown survey rule fields: {sorted(unknown)}")
    rule = SurveyRule.objects.select_for_update().get(pk=rule.pk)
    values = {name: getattr(rule, name) for name in RULE_FIELDS}
    values.update(fields)
    values["name"] = (values["name"] or "").strip()
    values["channel"] = values["channel"] or ""
    _check_rule(values)
    changes = {}
    for name, new in values.items():
        old = getattr(rule, name)
        if old != new:
            changes[name] = [_jsonable(old), _jsonable(new)]
            setattr(rule, name, new)
    if changes:
        rule.save()
        audit_record(action="surveys.rule_update", obj=rule, changes=changes)
    return rule


# --- sampling and tokens -------------------------------------------------------------------------


def sampled(kind: str, object_id: int, rate: int) -> bool:
    """Whether the interaction or case ``object_id`` falls in a ``rate`` % sample. A pure
    function of the id: the same interaction always draws the same way, whichever worker
    dispatches it and however often, and anyone can recompute the draw."""
    if rate >= 100:
        return True
    if rate <= 0:
        return False
    draw = hashlib.sha256(f"survey-sample:{kind}:{object_id}".encode()).digest()
    return int.from_bytes(draw[:8], "big") % 100 < rate


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def invitation_token(invitation: Invitation) -> str:
    """The secret in the invitation's link: an HMAC of its fixed fields (never stored)."""
    message = ":".join(
        str(part)
        for part in (
            invitation.customer_id,
            invitation.interaction_id or "",
            invitation.case_id or "",
            _micros(invitation.created_at),
        )
    )
    mac = salted_hmac(TOKEN_SALT, message, algorithm="sha256").digest()
    return urlsafe_b64encode(mac).decode().rstrip("=")[:32]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(invitation: Invitation) -> str:
    path = reverse("survey_public:answer", args=[invitation_token(invitation)])
    return f"{settings.SITE_URL}{path}"


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token belongs to, or None."""
    if not token or len(token) > 64:
        return None
    return (
        Invitation.objects.select_related("rule").filter(token_digest=token_digest(token)).first()
    )


# --- dispatch ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """Something that may be surveyed: an interaction or a closed case, flattened."""

    kind: str  # "interaction" or "case"
    object_id: int
    customer_id: int
    customer_name: str
    email: str
    language: str
    staff_id: int | None
    department_id: int
    channel: str
    business_type_id: int | None
    at: datetime


def _active_rules(trigger: str) -> list[SurveyRule]:
    rules = SurveyRule.objects.filter(trigger=trigger, is_active=True, sampling_rate__gt=0)
    # Most specific first: channel and business type, then either, then neither.
    return sorted(rules, key=lambda r: (not r.channel, r.business_type_id is None, r.pk))


def _business_type_ancestors() -> dict[int, list[int]]:
    parents = dict(BusinessType.objects.values_list("pk", "parent_id"))
    ancestors: dict[int, list[int]] = {}
    for pk in parents:
        chain, current = [], pk
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        ancestors[pk] = chain
    return ancestors


def matching_rule(
    rules: list[SurveyRule], candidate: Candidate, ancestors: dict[int, list[int]]
) -> SurveyRule | None:
    types = ancestors.get(candidate.business_type_id, []) if candidate.business_type_id else []
    for rule in rules:
        if rule.channel and rule.channel != candidate.channel:
            continue
        if rule.business_type_id is not None and rule.business_type_id not in types:
            continue
        return rule
    return None


def _lock_dispatch() -> None:
    """One dispatch at a time, so two workers cannot both invite the same customer inside the
    fatigue window. SQLite writes one transaction at a time already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('surveys:dispatch'))")


def _last_invited(customer_ids: set[int], since: datetime) -> dict[int, datetime]:
    rows = (
        Invitation.objects.filter(customer_id__in=customer_ids, created_at__gte=since)
        .values("customer_id")
        .annotate(last=Max("created_at"))
        .values_list("customer_id", "last")
    )
    return dict(rows)


def _choose(candidates: list[Candidate], rules: list[SurveyRule], now: datetime) -> list[tuple]:
    """(candidate, rule) pairs to invite: matched, sampled, within the fatigue limit."""
    ancestors = _business_type_ancestors() if any(r.business_type_id for r in rules) else {}
    chosen = []
    for candidate in candidates:
        if not candidate.email:
            continue
        rule = matching_rule(rules, candidate, ancestors)
        if rule is not None and sampled(candidate.kind, candidate.object_id, rule.sampling_rate):
            chosen.append((candidate, rule))
    if not chosen:
        return []
    longest = max(rule.fatigue_days for _candidate, rule in chosen)
    last = _last_invited({c.customer_id for c, _rule in chosen}, now - timedelta(days=longest))
    invited = []
    for candidate, rule in sorted(chosen, key=lambda pair: (pair[0].at, pair[0].object_id)):
        previous = last.get(candidate.customer_id)
        if rule.fatigue_days and previous and previous > now - timedelta(days=rule.fatigue_days):
            continue
        last[candidate.customer_id] = now
        invited.append((candidate, rule))
    return invited


def invitation_build(candidate: Candidate, rule: SurveyRule, now: datetime) -> Invitation:
    """An unsaved invitation of ``candidate`` by ``rule``, sent at ``now``, with its digest."""
    invitation = Invitation(
        rule=rule,
        customer_id=candidate.customer_id,
        interaction_id=candidate.object_id if candidate.kind == "interaction" else None,
        case_id=candidate.object_id if candidate.kind == "case" else None,
        staff_id=candidate.staff_id,
        department_id=candidate.department_id,
        channel=candidate.channel,
        language=candidate.language,
        state=InvitationState.QUEUED,
        created_at=now,
        expires_at=now + timedelta(days=rule.valid_days),
    )
    invitation.token_digest = token_digest(invitation_token(invitation))
    return invitation


def _message(candidate: Candidate, invitation: Invitation, now: datetime) -> OutboxMessage:
    with translation.override(invitation.language):
        subject = _("How did we do? A short survey about your recent service")
        body = render_to_string(
            "surveys/email_invitation.txt",
            {
                "name": candidate.customer_name,
                "link": LINK_PLACEHOLDER,
                "expires": localdate(invitation.expires_at),
                "about_case": candidate.kind == "case",
            },
        )
    return OutboxMessage(
        to=candidate.email,
        subject=subject,
        body=body,
        invitation=invitation,
        next_attempt_at=now,
    )


def rollup_day(moment: datetime) -> date:
    """The day a rollup row counts an invitation (and its answer) under: the local date."""
    return timezone.localdate(moment)


def _rollup_key(invitation: Invitation) -> tuple:
    return (
        rollup_day(invitation.created_at),
        invitation.department_id,
        invitation.staff_id or 0,
        invitation.channel,
    )


def _dispatch(candidates: list[Candidate], trigger: str, now: datetime, source: dict) -> int:
    rules = _active_rules(trigger)
    if not rules or not candidates:
        return 0
    chosen = _choose(candidates, rules, now)
    if not chosen:
        return 0
    invitations = [invitation_build(candidate, rule, now) for candidate, rule in chosen]
    Invitation.objects.bulk_create(invitations)
    OutboxMessage.objects.bulk_create(
        _message(candidate, invitation, now)
        for (candidate, _rule), invitation in zip(chosen, invitations, strict=True)
    )
    deltas: dict[tuple, dict[str, int]] = {}
    for invitation in invitations:
        counters = deltas.setdefault(_rollup_key(invitation), {})
        counters["invited"] = counters.get("invited", 0) + 1
    rollup_add(deltas)
    audit_record(
        action="surveys.dispatch",
        object_type="surveys.invitation",
        object_id=invitations[0].pk,
        changes={"trigger": trigger, "invited": len(invitations), **source},
    )
    return len(invitations)


def _customer_language(value: str) -> str:
    return value if value in Language.values else settings.LANGUAGE_CODE


def _interaction_candidates(first_id: int, last_id: int, since: datetime) -> list[Candidate]:
    already = Invitation.objects.filter(interaction_id=OuterRef("pk"))
    rows = (
        Interaction.objects.filter(
            pk__gte=first_id,
            pk__lte=last_id,
            outcome=InteractionOutcome.SERVED,
            customer__isnull=False,
            started_at__gte=since,
        )
        .exclude(customer__email="")
        .filter(~Exists(already))
        .values_list(
            "pk",
            "customer_id",
            "customer__name",
            "customer__email",
            "customer__preferred_language",
            "staff_id",
            "department_id",
            "channel",
            "business_type_id",
            "started_at",
        )
    )
    return [
        Candidate(
            kind="interaction",
            object_id=pk,
            customer_id=customer,
            customer_name=name,
            email=email,
            language=_customer_language(language),
            staff_id=staff,
            department_id=department,
            channel=channel,
            business_type_id=business_type,
            at=started,
        )
        for pk, customer, name, email, language, staff, department, channel, business_type, started in rows
    ]


def survey_dispatch_interactions(
    *, first_id: int, last_id: int, now: datetime | None = None
) -> int:
    """Invite customers about the interactions with ids in [first_id, last_id] (an ingest
    batch), by the active "after an interaction" rules. Returns how many were invited."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _active_rules(SurveyTrigger.INTERACTION):
            return 0
        _lock_dispatch()  # before reading who was invited already
        candidates = _interaction_candidates(first_id, last_id, now - INTERACTION_MAX_AGE)
        source = {"first_interaction": first_id, "last_interaction": last_id}
        return _dispatch(candidates, SurveyTrigger.INTERACTION, now, source)


def _case_candidate(case: Case) -> Candidate | None:
    if case.customer_id is None:
        return None
    handler_staff = case.handler.staff_id if case.handler_id else None
    return Candidate(
        kind="case",
        object_id=case.pk,
        customer_id=case.customer_id,
        customer_name=case.customer.name,
        email=case.customer.email or case.contact_email,
        language=_customer_language(case.language or case.customer.preferred_language),
        staff_id=handler_staff,
        department_id=case.department_id,
        channel=case.channel,
        business_type_id=case.business_type_id,
        at=case.closed_at or timezone.now(),
    )


def survey_dispatch_case(*, case_id: int, now: datetime | None = None) -> int:
    """Invite the customer of a closed case, by the active "after a case is closed" rules.
    A case already surveyed, reopened since or never closed invites nobody. Returns 0 or 1."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_dispatch()  # before reading whether it was invited already
        case = (
            Case.objects.select_related("customer", "handler")
            .filter(pk=case_id, closed_at__isnull=False)
            .exclude(Exists(Invitation.objects.filter(case_id=OuterRef("pk"))))
            .first()
        )
        candidate = _case_candidate(case) if case is not None else None
        if candidate is None:
            return 0
        return _dispatch([candidate], SurveyTrigger.CASE_CLOSED, now, {"case": case_id})


# --- the outbox ----------------------------------------------------------------------------------


@dataclass
class OutboxRun:
    sent: int = 0
    failed: int = 0  # attempts that failed this run (to be retried, or given up)
    given_up: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.failed


def _pause(attempts: int) -> timedelta:
    return OUTBOX_FIRST_PAUSE * 2 ** max(0, attempts - 1)


def _due_messages(now: datetime, limit: int) -> list[OutboxMessage]:
    due = OutboxMessage.objects.filter(
        state=OutboxState.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due[:limit])


def _body_for(message: OutboxMessage, invitations: dict[int, Invitation]) -> str:
    invitation = invitations.get(message.invitation_id)
    if invitation is None:
        return message.body
    return message.body.replace(LINK_PLACEHOLDER, invitation_link(invitation), 1)


def _send_one(message: OutboxMessage, body: str) -> None:
    EmailMessage(message.subject, body, settings.DEFAULT_FROM_EMAIL, [message.to]).send()


def outbox_send_due(*, now: datetime | None = None, limit: int = OUTBOX_BATCH) -> OutboxRun:
    """Send up to ``limit`` due messages through the configured mail backend. Two workers
    never take the same message (rows are claimed with SKIP LOCKED on PostgreSQL)."""
    now = now or timezone.now()
    run = OutboxRun()
    with transaction.atomic():
        messages = _due_messages(now, limit)
        invitation_ids = [m.invitation_id for m in messages if m.invitation_id]
        invitations = Invitation.objects.in_bulk(invitation_ids)
        sent_invitations = []
        for message in messages:
            message.attempts += 1
            try:
                _send_one(message, _body_for(message, invitations))
            except Exception as exc:  # any backend error: keep it, retry later
                logger.warning("survey outbox: message %s failed: %s", message.pk, exc)
                message.last_error = f"{type(exc).__name__}: {exc}"[:4000]
                run.failed += 1
                if message.attempts >= OUTBOX_MAX_ATTEMPTS:
                    message.state = OutboxState.FAILED
                    run.given_up += 1
                else:
                    message.next_attempt_at = now + _pause(message.attempts)
            else:
                message.state = OutboxState.SENT
                message.sent_at = now
                run.sent += 1
                if message.invitation_id:
                    sent_invitations.append(message.invitation_id)
            message.save(
                update_fields=["attempts", "last_error", "state", "sent_at", "next_attempt_at"]
            )
        if sent_invitations:
            Invitation.objects.filter(pk__in=sent_invitations, state=InvitationState.QUEUED).update(
                state=InvitationState.SENT
            )
    return run


@transaction.atomic
def outbox_message_retry(*, actor, message: OutboxMessage) -> OutboxMessage:
    """Send a failed message again at the next run (its attempts start over)."""
    message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
    if message.state != OutboxState.FAILED:
        raise ValidationError(_("Only a message that failed can be sent again."))
    invitation = message.invitation
    if invitation is not None and invitation.state == InvitationState.EXPIRED:
        raise ValidationError(_("The survey link of this message has expired."))
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.next_attempt_at = timezone.now()
    message.save(update_fields=["state", "attempts", "next_attempt_at"])
    audit_record(
        action="surveys.outbox_retry", obj=message, changes={"state": ["failed", "pending"]}
    )
    return message


def invitations_expire(*, now: datetime | None = None) -> int:
    """Mark the open invitations past their expiry as expired, and give up the messages of
    those never sent. Returns how many expired."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Invitation.objects.filter(
            state__in=[InvitationState.QUEUED, InvitationState.SENT], expires_at__lte=now
        )
        ids = list(due.values_list("pk", flat=True)[:10_000])
        if not ids:
            return 0
        Invitation.objects.filter(pk__in=ids).update(state=InvitationState.EXPIRED)
        OutboxMessage.objects.filter(invitation_id__in=ids, state=OutboxState.PENDING).update(
            state=OutboxState.FAILED, last_error="The survey link expired before it was sent."
        )
    return len(ids)


# --- responses -----------------------------------------------------------------------------------


def _scale_error(value, low: int, high: int):
    if value is None:
        return _("Choose an answer.")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return _("Choose a number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return None


def _check_answers(rule: SurveyRule, csat, nps, effort, comment: str) -> dict:
    errors = {}
    for asked, name, value, low, high in (
        (rule.ask_csat, "csat", csat, 1, 5),
        (rule.ask_nps, "nps", nps, 0, 10),
        (rule.ask_effort, "effort", effort, 1, 5),
    ):
        if asked and (error := _scale_error(value, low, high)):
            errors[name] = error
    if len(comment) > COMMENT_MAX_LENGTH:
        errors["comment"] = _("Keep the comment under %(count)s characters.") % {
            "count": COMMENT_MAX_LENGTH
        }
    return errors


def response_counters(csat, nps, effort) -> dict[str, int]:
    """What one answer adds to its rollup row."""
    counters = {"answered": 1}
    if csat is not None:
        counters.update(csat_n=1, csat_sum=csat, csat_satisfied=int(csat >= 4))
    if nps is not None:
        counters.update(nps_n=1, nps_promoters=int(nps >= 9), nps_detractors=int(nps <= 6))
    if effort is not None:
        counters.update(effort_n=1, effort_sum=effort)
    return counters


def survey_respond(
    *,
    invitation: Invitation,
    csat: int | None = None,
    nps: int | None = None,
    effort: int | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> Response:
    """Record the customer's answer to ``invitation`` (once). Raises ``InvitationClosed``
    when it was answered already or has expired, ``ValidationError`` for a missing or
    impossible answer. Only the questions the rule asks are kept."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("rule")
            .get(pk=invitation.pk)
        )
        if invitation.state == InvitationState.ANSWERED:
            raise InvitationClosed("answered")
        if invitation.expires_at <= now:
            raise InvitationClosed("expired")
        rule = invitation.rule
        comment = comment.strip() if rule.ask_comment else ""
        errors = _check_answers(rule, csat, nps, effort, comment)
        if errors:
            raise ValidationError(errors)
        response = Response.objects.create(
            invitation=invitation,
            csat=csat if rule.ask_csat else None,
            nps=nps if rule.ask_nps else None,
            effort=effort if rule.ask_effort else None,
            comment=comment,
            staff_id=invitation.staff_id,
            department_id=invitation.department_id,
            channel=invitation.channel,
            answered_at=now,
        )
        Invitation.objects.filter(pk=invitation.pk).update(
            state=InvitationState.ANSWERED, answered_at=now
        )
        rollup_add(
            {
                _rollup_key(invitation): response_counters(
                    response.csat, response.nps, response.effort
                )
            }
        )
        emit(
            "survey.answered",
            {
                "response_id": response.pk,
                "invitation_id": invitation.pk,
                "interaction_id": invitation.interaction_id,
                "case_id": invitation.case_id,
                "staff_id": invitation.staff_id,
                "department_id": invitation.department_id,
                "channel": invitation.channel,
                "csat": response.csat,
                "nps": response.nps,
                "effort": response.effort,
            },
        )
    return response


# --- rollups -------------------------------------------------------------------------------------


class MonthOf(Func):
    """'YYYY-MM' of a date column, computed by the database without a per-row function call
    into Python (which Django's TruncMonth is on SQLite)."""

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="to_char(%(expressions)s, 'YYYY-MM')")

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="substr(%(expressions)s, 1, 7)")


def month_of(label: str) -> date:
    """'2026-05' → 2026-05-01."""
    year, month = label.split("-")
    return date(int(year), int(month), 1)


DAILY_KEY = ("day", "department_id", "staff_key", "channel")
MONTHLY_KEY = ("month", "department_id", "channel")
MONTHLY_STAFF_KEY = ("month", "department_id", "staff_key", "channel")


def _upsert(model, key_columns: tuple[str, ...], deltas: dict[tuple, dict[str, int]]) -> None:
    """Add ``deltas`` ({key: {counter: n}}) to ``model``'s rows, creating missing ones: one
    INSERT … ON CONFLICT DO UPDATE per 500 keys (PostgreSQL and SQLite alike)."""
    if not deltas:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(name) for name in (*key_columns, *ROLLUP_COUNTERS))
    updates = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}"
        for name in ROLLUP_COUNTERS
    )
    conflict = ", ".join(quote(name) for name in key_columns)
    width = len(key_columns) + len(ROLLUP_COUNTERS)
    adapt = connection.ops.adapt_datefield_value
    items = sorted(deltas.items())  # a fixed order: concurrent upserts lock rows alike
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        params = []
        for key, counters in chunk:
            params += [adapt(key[0]), *key[1:]]
            params += [counters.get(name, 0) for name in ROLLUP_COUNTERS]
        values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
                params,
            )


def _merge(into: dict[tuple, dict[str, int]], key: tuple, counters: dict[str, int]) -> None:
    row = into.setdefault(key, {})
    for name, value in counters.items():
        row[name] = row.get(name, 0) + value


def rollup_add(deltas: dict[tuple, dict[str, int]]) -> None:
    """Add counts keyed (day, department id, staff key, channel) to the daily rollups and to
    the monthly ones derived from them, in the caller's transaction."""
    monthly: dict[tuple, dict[str, int]] = {}
    staff_monthly: dict[tuple, dict[str, int]] = {}
    for (day, department_id, staff_key, channel), counters in deltas.items():
        month = day.replace(day=1)
        _merge(monthly, (month, department_id, channel), counters)
        if staff_key:
            _merge(staff_monthly, (month, department_id, staff_key, channel), counters)
    _upsert(DailyRollup, DAILY_KEY, deltas)
    _upsert(MonthlyRollup, MONTHLY_KEY, monthly)
    _upsert(MonthlyStaffRollup, MONTHLY_STAFF_KEY, staff_monthly)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


REBUILD_DAYS_PER_STEP = 7


def _rollup_groups(first_day: date, last_day: date):
    """The rollup rows of the days ``first_day``…``last_day`` computed from the invitations
    created on those days (by their local date) and their responses."""
    start, end = _day_start(first_day), _day_start(last_day + timedelta(days=1))
    zero = Value(0, output_field=IntegerField())
    return (
        Invitation.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(local_day=TruncDate("created_at"))
        .values("local_day", "department_id", "staff_id", "channel")
        .annotate(
            invited=Count("pk"),
            answered=Count("response"),
            csat_n=Count("response__csat"),
            csat_sum=Coalesce(Sum("response__csat"), zero),
            csat_satisfied=Count("response", filter=Q(response__csat__gte=4)),
            nps_n=Count("response__nps"),
            nps_promoters=Count("response", filter=Q(response__nps__gte=9)),
            nps_detractors=Count("response", filter=Q(response__nps__lte=6)),
            effort_n=Count("response__effort"),
            effort_sum=Coalesce(Sum("response__effort"), zero),
        )
        .order_by()
    )


def _rebuild_days(first_day: date, last_day: date) -> int:
    DailyRollup.objects.filter(day__gte=first_day, day__lte=last_day).delete()
    written = 0
    step_start = first_day
    while step_start <= last_day:
        step_end = min(last_day, step_start + timedelta(days=REBUILD_DAYS_PER_STEP - 1))
        rows = [
            DailyRollup(
                day=group["local_day"],
                department_id=group["department_id"],
                staff_key=group["staff_id"] or 0,
                channel=group["channel"],
                **{name: group[name] for name in ROLLUP_COUNTERS},
            )
            for group in _rollup_groups(step_start, step_end)
        ]
        DailyRollup.objects.bulk_create(rows, batch_size=5_000)
        written += len(rows)
        step_start = step_end + timedelta(days=1)
    return written


def _rebuild_months(first_month: date, last_month: date) -> None:
    """The monthly rollups of whole months, summed from the daily ones."""
    end = _next_month(last_month)
    MonthlyRollup.objects.filter(month__gte=first_month, month__lte=last_month).delete()
    MonthlyStaffRollup.objects.filter(month__gte=first_month, month__lte=last_month).delete()
    daily = DailyRollup.objects.filter(day__gte=first_month, day__lt=end).annotate(
        month_label=MonthOf("day")
    )
    sums = {name: Sum(name) for name in ROLLUP_COUNTERS}
    monthly = [
        MonthlyRollup(
            month=month_of(group["month_label"]),
            department_id=group["department_id"],
            channel=group["channel"],
            **{name: group[name] for name in ROLLUP_COUNTERS},
        )
        for group in daily.values("month_label", "department_id", "channel")
        .annotate(**sums)
        .order_by()
    ]
    MonthlyRollup.objects.bulk_create(monthly, batch_size=5_000)
    month = first_month
    while month <= last_month:  # a month at a time: about one row per employee each
        following = _next_month(month)
        rows = [
            MonthlyStaffRollup(
                month=month,
                department_id=group["department_id"],
                staff_key=group["staff_key"],
                channel=group["channel"],
                **{name: group[name] for name in ROLLUP_COUNTERS},
            )
            for group in DailyRollup.objects.filter(
                day__gte=month, day__lt=following, staff_key__gt=0
            )
            .values("department_id", "staff_key", "channel")
            .annotate(**sums)
            .order_by()
        ]
        MonthlyStaffRollup.objects.bulk_create(rows, batch_size=5_000)
        month = following


def rollup_rebuild(*, first_day: date, last_day: date) -> int:
    """Recompute the daily rollups of the days ``first_day``…``last_day`` (local dates, both
    included) from the invitations created on those days and their responses, a week at a
    time, then the monthly rollups of the months they touch. Returns how many daily rows it
    wrote. Answers arriving meanwhile wait for it (the tables are locked on PostgreSQL; SQLite
    writes one transaction at a time) and are then added on top."""
    if last_day < first_day:
        raise ValueError("The last day comes before the first.")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (DailyRollup, MonthlyRollup, MonthlyStaffRollup):
                    table = connection.ops.quote_name(model._meta.db_table)
                    cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        written = _rebuild_days(first_day, last_day)
        _rebuild_months(first_day.replace(day=1), last_day.replace(day=1))
        audit_record(
            action="surveys.rollup_rebuild",
            object_type="surveys.dailyrollup",
            changes={"from": first_day.isoformat(), "to": last_day.isoformat(), "rows": written},
        )
    return written
