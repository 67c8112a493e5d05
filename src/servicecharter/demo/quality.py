"""Demo scorecards and evaluations.

Two scorecards a Chinese retail bank's quality team would use, in English and Chinese: one for
phone service (identity verification is critical: a "no" fails the call) and one for the
counter (identity document check and, for wealth products, the risk disclosure 风险揭示 are
critical). They are written through the quality services as the demo quality auditor would,
checked by the statistics module, and put in use.

When the demo interactions are loaded, the Beijing branch's recent served calls and counter
visits are evaluated: a few per employee (the demo teller, who signs in as ``agent``, gets
enough for an adequate sample; most colleagues do not, so the team view shows both), scored
through ``evaluation_submit`` with answers drawn per employee from a seeded generator, a few
auto-failed, and some left in the auditor's queue to score.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from servicecharter.accounts.models import User
from servicecharter.interactions.choices import DeviationKind
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department
from servicecharter.quality import selectors, services
from servicecharter.quality.choices import CriterionCategory, Scale
from servicecharter.quality.models import ScorecardVersion
from servicecharter.standards.models import StandardStep

YES_NO, ONE_TO_FIVE = Scale.YES_NO, Scale.ONE_TO_FIVE
ATT, ACC, COMP, PROC = (
    CriterionCategory.ATTITUDE,
    CriterionCategory.ACCURACY,
    CriterionCategory.COMPLIANCE,
    CriterionCategory.PROCESS,
)


@dataclass(frozen=True)
class CriterionSpec:
    code: str
    text_en: str
    text_zh: str
    scale: str
    category: str
    weight: int = 1
    critical: bool = False
    # How often it does not arise (answered "not applicable") in the demo scoring.
    not_applicable: float = 0.0


@dataclass(frozen=True)
class SectionSpec:
    name_en: str
    name_zh: str
    weight: int
    criteria: tuple[CriterionSpec, ...]


@dataclass(frozen=True)
class ScorecardSpec:
    code: str
    name_en: str
    name_zh: str
    channel: str
    sections: tuple[SectionSpec, ...]
    pass_mark: int = 80


C = CriterionSpec
PHONE = ScorecardSpec(
    "PHONE",
    "Phone service quality check",
    "电话服务质检表",
    Channel.PHONE,
    (
        SectionSpec("Opening", "开场", 15, (
            C("greeting", "Greeted with the standard opening and gave name or agent number",
              "使用标准开场白并报姓名或工号", YES_NO, ATT),
            C("verify_identity", "Verified the caller's identity before discussing the account",
              "涉及账户信息前核验来电人身份", YES_NO, COMP, critical=True),
        )),
        SectionSpec("Understanding and accuracy", "需求理解与准确性", 35, (
            C("understood_need", "Understood the customer's need without making them repeat it",
              "准确理解客户需求，无需客户重复", ONE_TO_FIVE, ACC, 2),
            C("accurate_information", "Gave correct and complete information",
              "提供的信息正确、完整", ONE_TO_FIVE, ACC, 3),
            C("fee_disclosure", "Disclosed fees and charges that apply",
              "告知适用的费用和收费", YES_NO, COMP, 2, not_applicable=0.5),
        )),
        SectionSpec("Attitude", "服务态度", 30, (
            C("courtesy", "Courteous and warm throughout", "全程礼貌、热情", ONE_TO_FIVE, ATT, 2),
            C("patience", "Patient; did not interrupt or rush the customer",
              "耐心倾听，不打断、不催促客户", ONE_TO_FIVE, ATT, 2),
            C("plain_language", "Explained in plain words, without jargon",
              "用通俗语言解释，不使用行话", ONE_TO_FIVE, ATT),
        )),
        SectionSpec("Process and closing", "流程与结束", 20, (
            C("followed_procedure", "Followed the business procedure (system notes, transfers)",
              "按业务流程办理（系统记录、转接规范）", YES_NO, PROC, 2),
            C("confirmed_resolution", "Confirmed the customer's question was resolved",
              "确认客户问题已解决", YES_NO, PROC),
            C("survey_invite", "Invited the customer to rate the service",
              "邀请客户进行满意度评价", YES_NO, PROC, not_applicable=0.2),
        )),
    ),
)  # fmt: skip
COUNTER = ScorecardSpec(
    "COUNTER",
    "Counter service quality check",
    "柜面服务质检表",
    Channel.BRANCH,
    (
        SectionSpec("Reception", "接待", 15, (
            C("stand_and_greet", "Stood and greeted the customer on arrival",
              "客户到柜时起身迎接、主动问候", YES_NO, ATT),
            C("queue_guidance", "Guided the customer to the right window and forms",
              "引导客户至正确窗口并指导填单", YES_NO, PROC, not_applicable=0.3),
        )),
        SectionSpec("Compliance", "合规", 40, (
            C("verify_identity_document", "Checked the identity document against the customer",
              "核对客户有效身份证件，人证相符", YES_NO, COMP, 2, critical=True),
            C("risk_disclosure", "Disclosed the risks of the wealth product (风险揭示) and "
              "checked its risk rating matches the customer's",
              "进行风险揭示，确认产品风险等级与客户风险承受能力匹配", YES_NO, COMP, 2,
              critical=True, not_applicable=0.7),
            C("dual_recording", "Audio-video recorded the sale where required (双录)",
              "按要求进行录音录像（双录）", YES_NO, COMP, not_applicable=0.7),
        )),
        SectionSpec("Handling", "业务办理", 25, (
            C("accuracy", "Processed the business accurately, no rework",
              "业务办理准确，无差错返工", ONE_TO_FIVE, ACC, 2),
            C("efficiency", "Handled without needless delay", "办理高效，无不必要的等待",
              ONE_TO_FIVE, PROC),
        )),
        SectionSpec("Attitude", "服务态度", 20, (
            C("courtesy", "Courteous and patient", "礼貌、耐心", ONE_TO_FIVE, ATT),
            C("explained_clearly", "Explained terms and next steps clearly",
              "清楚说明条款及后续事项", ONE_TO_FIVE, ATT),
        )),
    ),
)  # fmt: skip
SCORECARDS = (PHONE, COUNTER)

AUDITOR = "quality"  # the demo quality auditor (institution-wide)
BRANCH = "BJ"  # the branch whose service is evaluated in the demo
DEMO_EMPLOYEE = "agent"
RECENT_DAYS = 90
STAFF_PER_CARD = 8
DEMO_EMPLOYEE_SCORED = 9  # above the minimum sample: an adequate result
OTHERS_SCORED = (2, 6)  # most colleagues: too few to act on
LEFT_TO_SCORE = 6  # per scorecard, in the auditor's queue


@dataclass
class QualitySummary:
    scorecards: int = 0
    criteria: int = 0
    evaluations: int = 0
    auto_failed: int = 0
    assigned: int = 0
    notes: list = field(default_factory=list)


def _create(spec: ScorecardSpec, auditor) -> ScorecardVersion:
    scorecard = services.scorecard_create(
        actor=auditor,
        code=spec.code,
        name_en=spec.name_en,
        name_zh=spec.name_zh,
        pass_mark=spec.pass_mark,
    )
    version = scorecard.versions.get()
    for section_spec in spec.sections:
        section = services.section_add(
            actor=auditor,
            version=version,
            name_en=section_spec.name_en,
            name_zh=section_spec.name_zh,
            weight=section_spec.weight,
        )
        for criterion in section_spec.criteria:
            services.criterion_add(
                actor=auditor,
                section=section,
                code=criterion.code,
                text_en=criterion.text_en,
                text_zh=criterion.text_zh,
                weight=criterion.weight,
                scale=criterion.scale,
                category=criterion.category,
                critical=criterion.critical,
            )
    return services.scorecard_version_activate(actor=auditor, version=version)


# The steps of the standard that show whether a criterion was met: a missed step is a "no"; a
# criterion whose steps the judging standard does not have (a risk disclosure on a deposit) is
# not applicable. Other criteria are judged from the recording: drawn per employee.
EVIDENCE = {
    "greeting": ("greeting",),
    "stand_and_greet": ("greeting",),
    "verify_identity": ("verify_identity",),
    "verify_identity_document": ("verify_identity",),
    "fee_disclosure": ("fee_disclosure", "apr_disclosure", "deposit_insurance"),
    "risk_disclosure": ("risk_disclosure",),
    "dual_recording": ("dual_recording",),
    "survey_invite": ("invite_rating",),
}
MISSED = (DeviationKind.MISSED_STEP, DeviationKind.MISSED_DISCLOSURE)


@dataclass(frozen=True)
class Evidence:
    steps: frozenset  # the step codes of the standard version that judged the interaction
    done: frozenset  # the steps the interaction's events show done
    missed: frozenset  # the mandatory steps it missed


def _evidence(interaction_ids: list[int]) -> dict[int, Evidence]:
    """What the interactions' deviations show: three queries for all of them."""
    versions, done = {}, {}
    for pk, version_id, events in Interaction.objects.filter(pk__in=interaction_ids).values_list(
        "pk", "standard_version_id", "steps"
    ):
        versions[pk] = version_id
        done[pk] = frozenset(event.get("step") for event in events or ())
    steps: dict[int, set] = {}
    for version_id, code in StandardStep.objects.filter(
        version_id__in=set(versions.values())
    ).values_list("version_id", "code"):
        steps.setdefault(version_id, set()).add(code)
    missed: dict[int, set] = {}
    for pk, code in Deviation.objects.filter(
        interaction_id__in=interaction_ids, kind__in=MISSED
    ).values_list("interaction_id", "step_code"):
        missed.setdefault(pk, set()).add(code)
    return {
        pk: Evidence(frozenset(steps.get(version, ())), done[pk], frozenset(missed.get(pk, ())))
        for pk, version in versions.items()
    }


def _judged_by_steps(criterion: CriterionSpec, evidence: Evidence) -> int | str | None:
    """0 (missed) or None (not applicable) from the steps, "done" when the events show the
    step, or "recording" when the steps do not tell."""
    codes = EVIDENCE.get(criterion.code)
    if not codes or criterion.scale != YES_NO:
        return "recording"
    if evidence.missed.intersection(codes):
        return 0
    if evidence.done.intersection(codes):
        return "done"
    if evidence.steps.intersection(codes):
        return None  # an optional step not needed this time (no account discussed)
    return None if criterion.not_applicable else "recording"


def _answers(spec: ScorecardSpec, rng: random.Random, care: float, evidence: Evidence) -> dict:
    """One evaluation's answers: what the steps show, and for the rest a careful employee (care
    near 1) mostly meets each criterion."""
    answers = {}
    for section in spec.sections:
        for criterion in section.criteria:
            judged = _judged_by_steps(criterion, evidence)
            if judged == "done":
                # Done, as the events say; listening, the auditor now and then finds it was not
                # done properly (an identity check that asked nothing that proves identity).
                answers[criterion.code] = 0 if rng.random() < 0.04 / care else 1
            elif judged != "recording":
                answers[criterion.code] = judged
            elif rng.random() < criterion.not_applicable:
                answers[criterion.code] = None
            elif criterion.scale == YES_NO:
                miss = (0.02 if criterion.critical else 0.12) / care
                answers[criterion.code] = 0 if rng.random() < miss else 1
            else:
                answers[criterion.code] = max(1, min(5, round(rng.gauss(3.2 + 1.3 * care, 0.8))))
    return answers


def _candidates(spec: ScorecardSpec, since: datetime) -> dict[int, list[int]]:
    """Served interactions of the branch on the scorecard's channel since ``since``, by staff."""
    branch = Department.objects.get(code=BRANCH)
    rows = (
        Interaction.objects.filter(
            channel=spec.channel,
            outcome="served",
            staff__isnull=False,
            started_at__gte=since,
            department__path__startswith=branch.path,
        )
        .order_by("pk")
        .values_list("staff_id", "pk")
    )
    by_staff: dict[int, list[int]] = {}
    for staff_id, pk in rows:
        by_staff.setdefault(staff_id, []).append(pk)
    return by_staff


def _plan(by_staff, rng: random.Random, favoured: int | None) -> list[tuple[int, list[int]]]:
    """(staff, interactions to evaluate) for a few employees, the demo employee first."""
    chosen = sorted(by_staff)
    rng.shuffle(chosen)
    chosen = chosen[:STAFF_PER_CARD]
    if favoured in by_staff and favoured not in chosen:
        chosen = [favoured, *chosen[: STAFF_PER_CARD - 1]]
    plan = []
    for staff_id in chosen:
        wanted = DEMO_EMPLOYEE_SCORED if staff_id == favoured else rng.randint(*OTHERS_SCORED)
        pool = by_staff[staff_id]
        plan.append((staff_id, rng.sample(pool, min(wanted, len(pool)))))
    return plan


def _evaluate(spec, version, auditor, seed: int, since, favoured, summary: QualitySummary):
    rng = random.Random(f"{seed}:quality:{spec.code}")
    plan = _plan(_candidates(spec, since), rng, favoured)
    picks = [services.EvaluationPick(pk, auditor.pk) for _staff, chosen in plan for pk in chosen]
    if not picks:
        summary.notes.append(f"{spec.code}: no recent interactions to evaluate")
        return
    assigned = services.evaluation_assign_many(
        actor=auditor, scorecard_version=version, picks=picks
    ).created
    care = {staff_id: random.Random(f"{seed}:qa-care:{staff_id}").uniform(0.6, 1.4)
            for staff_id, _chosen in plan}  # fmt: skip
    to_score = assigned[: max(0, len(assigned) - LEFT_TO_SCORE)]
    evidence = _evidence([evaluation.interaction_id for evaluation in to_score])
    for evaluation in to_score:
        answers = _answers(
            spec, rng, care[evaluation.staff_id], evidence[evaluation.interaction_id]
        )
        scored = services.evaluation_submit(actor=auditor, evaluation=evaluation, answers=answers)
        summary.evaluations += 1
        summary.auto_failed += scored.auto_failed
    summary.assigned += len(assigned) - len(to_score)


def quality_seed(*, seed: int, today: date | None = None) -> QualitySummary:
    """Write the demo scorecards and, when interactions are loaded, the Beijing branch's
    evaluations (inside the seed's transaction), as the demo quality auditor."""
    auditor = User.objects.get(username=AUDITOR)
    today = today or timezone.localdate()
    since = timezone.make_aware(datetime.combine(today - timedelta(days=RECENT_DAYS), time.min))
    employee = User.objects.filter(username=DEMO_EMPLOYEE).values_list("staff_id", flat=True)
    favoured = employee.first()
    summary = QualitySummary()
    for spec in SCORECARDS:
        version = _create(spec, auditor)
        summary.scorecards += 1
        summary.criteria += len(selectors.version_criteria(version))
        _evaluate(spec, version, auditor, seed, since, favoured, summary)
    return summary
