"""Demo service standards: the main business types and channels of a retail bank, in English
and Chinese, with the channel service levels of the paper (phone answered within 20 s for 80%
of calls, chat first reply within 30 s, counter wait within 15 minutes, email reply within one
business day).

Plain data first (``STANDARDS``, ``LEVELS``), then ``standards_seed``, which writes them through
the standards services as the demo compliance officer would: each standard is created, its
steps added, and its versions published. Version 1 of everything takes effect 13 months before
the seed's day, so every demo interaction (the last 12 months) is judged; the card standard has
a version 2 from 4 months before, and the phone level tightened from 30 s to 20 s 6 months
before, so the demo shows interactions judged by different versions.

Step targets are seconds from the start of service (see ``interactions.checks``).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache

from django.utils import timezone

from servicecharter.accounts.models import User
from servicecharter.org.choices import Channel
from servicecharter.org.models import BusinessType, Department
from servicecharter.standards import services
from servicecharter.standards.choices import Phase, ServiceLevelMetric
from servicecharter.standards.models import StandardVersion

C, H, R, F = Phase.CONSULTATION, Phase.HANDLING, Phase.RESOLUTION, Phase.FEEDBACK
# How a step is required.
MUST, DISCLOSE, MAY = "mandatory", "disclosure", "optional"


@dataclass(frozen=True)
class Step:
    code: str
    phase: str
    target: int | None
    need: str
    name_en: str
    name_zh: str
    description_en: str = ""
    description_zh: str = ""


@dataclass(frozen=True)
class Version:
    months_before: int  # takes effect this many months before the seed's day
    steps: tuple[Step, ...]
    summary_en: str = ""
    summary_zh: str = ""


@dataclass(frozen=True)
class StandardSpec:
    code: str
    business_type: str | None
    channel: str
    name_en: str
    name_zh: str
    audience: tuple[str, ...]  # team kinds of demo.institution (RET, TEL, …)
    versions: tuple[Version, ...] = field(default_factory=tuple)


def greet(target: int) -> Step:
    return Step(
        "greeting", C, target, MUST, "Greeting", "问候",
        "Greet the customer with the standard opening and give your name or agent number.",
        "使用标准开场白问候客户，并报姓名或工号。",
    )  # fmt: skip


def verify(target: int, need=MUST) -> Step:
    return Step(
        "verify_identity", H, target, need, "Identity check", "身份核验",
        "Verify the customer's identity before discussing any account.",
        "涉及账户信息前，先核验客户身份。",
    )  # fmt: skip


def resolve(target: int | None) -> Step:
    return Step(
        "resolve", R, target, MUST, "Resolve the request", "问题处理",
        "Handle the request, or say who will and by when.",
        "办理或解答客户诉求；不能当场解决的，告知承办人和时限。",
    )  # fmt: skip


def rating(code="invite_rating") -> Step:
    return Step(
        code, F, None, MAY, "Invite feedback", "邀请评价",
        "Invite the customer to rate the service.",
        "邀请客户对本次服务进行评价。",
    )  # fmt: skip


CARD_V1 = (
    greet(10),
    verify(120),
    Step(
        "fee_disclosure", H, 240, DISCLOSE, "Fee and risk disclosure", "费用及风险揭示",
        "Before the customer agrees, state the fees, the interest rate as an annual rate, and "
        "the risks of instalments and cash advances.",
        "在客户同意前，说明手续费、年化利率，以及分期、取现等业务的风险。",
    ),
    resolve(420),
    rating("survey_invite"),
)  # fmt: skip
CARD_V2 = (
    greet(10),
    verify(90),
    CARD_V1[2],
    resolve(420),
    Step(
        "recap", R, 480, MUST, "Recap", "复述确认",
        "Repeat what was agreed (amounts, dates, fees) and ask whether anything else is needed.",
        "复述办理结果（金额、日期、费用），并询问客户是否还有其他需要。",
    ),
    rating("survey_invite"),
)  # fmt: skip

STANDARDS: tuple[StandardSpec, ...] = (
    StandardSpec(
        "DEP-COUNTER", "B01", Channel.BRANCH, "Deposits at the counter", "储蓄存款柜面服务",
        ("RET",),
        (Version(13, (
            greet(30),
            verify(180),
            Step("deposit_insurance", H, 300, DISCLOSE, "Deposit insurance notice", "存款保险告知",
                 "Tell the customer the deposit is protected by deposit insurance, up to "
                 "RMB 500,000 per depositor per bank.",
                 "告知客户存款受《存款保险条例》保护，同一存款人在同一家银行最高偿付限额为人民币50万元。"),
            Step("process", H, 600, MUST, "Process the transaction", "办理业务",
                 "Process the deposit or withdrawal and count the cash in front of the customer.",
                 "办理存取款业务，当面清点现金。"),
            Step("confirm_receipt", R, 720, MUST, "Check the receipt", "核对回单",
                 "Ask the customer to check and sign the receipt.", "请客户核对凭证并签字确认。"),
            rating(),
        )),),
    ),
    StandardSpec(
        "CARD-PHONE", "B03", Channel.PHONE, "Bank cards by phone", "银行卡电话服务",
        ("TEL", "CRD"),
        (
            Version(13, CARD_V1),
            Version(
                4, CARD_V2,
                "Identity check within 90 s; a recap of what was agreed is now mandatory.",
                "身份核验须在90秒内完成；新增强制“复述确认”环节。",
            ),
        ),
    ),
    StandardSpec(
        "WLT-SALE", "B09", "", "Wealth management sales", "理财产品销售服务", ("WLT", "PB"),
        (Version(13, (
            greet(60),
            Step("risk_assessment", C, 900, MUST, "Risk tolerance assessment", "风险承受能力评估",
                 "Check that the customer's risk tolerance assessment is valid; re-assess it if "
                 "it is more than a year old.",
                 "核实客户风险承受能力评估结果在有效期内，超过一年的须重新评估。"),
            Step("product_match", H, 1200, MUST, "Suitability match", "适当性匹配",
                 "Offer only products whose risk rating does not exceed the customer's tolerance.",
                 "只推介风险等级不高于客户风险承受能力的产品。"),
            Step("risk_disclosure", H, 1500, DISCLOSE, "Risk disclosure", "风险揭示",
                 "Read the risk disclosure: a wealth product is not a deposit, its return is not "
                 "guaranteed and the principal may be lost. The customer copies the risk statement "
                 "by hand.",
                 "宣读《风险揭示书》：理财非存款、产品有风险、投资须谨慎，不保证本金和收益；客户手抄风险确认语句。"),
            Step("dual_recording", H, None, MUST, "Audio and video recording", "双录",
                 "Record the sale in sound and picture in the sales area.",
                 "在销售专区对销售过程同步录音录像。"),
            Step("cooling_off", H, 1800, DISCLOSE, "Cooling-off notice", "冷静期告知",
                 "Tell the customer of the 24-hour cooling-off period and how to cancel.",
                 "告知客户24小时投资冷静期及撤销方式。"),
            Step("confirm_sign", R, 2100, MUST, "Signed confirmation", "签署确认",
                 "The customer signs the product agreement and the risk disclosure.",
                 "客户签署产品协议及风险揭示书。"),
            rating(),
        )),),
    ),
    StandardSpec(
        "LOAN-COUNTER", "B02", Channel.BRANCH, "Personal loans at the counter", "个人贷款柜面服务",
        ("LN", "SME"),
        (Version(13, (
            greet(60),
            Step("needs_assessment", C, 600, MUST, "Needs and eligibility", "了解需求与资质",
                 "Ask what the loan is for and check eligibility before offering a product.",
                 "了解贷款用途，核实申请资质后再推荐产品。"),
            verify(900),
            Step("apr_disclosure", H, 1500, DISCLOSE, "Annual rate and fees", "年化利率及费用披露",
                 "State the annualised interest rate and every fee, as the PBOC requires.",
                 "按人民银行要求，以年化利率明示贷款利率，并说明全部费用。"),
            Step("contract_explain", H, 2400, MUST, "Contract terms", "合同条款说明",
                 "Explain repayment, early repayment and what happens on a missed payment.",
                 "说明还款方式、提前还款及逾期后果等主要条款。"),
            Step("next_steps", R, 2700, MUST, "Next steps", "告知后续流程",
                 "Say what happens next and when the customer will hear.",
                 "告知后续审批流程及答复时间。"),
            rating(),
        )),),
    ),
    StandardSpec(
        "PHONE", None, Channel.PHONE, "Phone service", "电话服务通用标准", ("TEL",),
        (Version(13, (
            greet(10),
            verify(120, need=MAY),
            resolve(600),
            rating("survey_invite"),
        )),),
    ),
    StandardSpec(
        "COUNTER", None, Channel.BRANCH, "Counter service", "柜面服务通用标准", ("RET",),
        (Version(13, (
            greet(30),
            Step("identify_need", C, 120, MUST, "Understand the need", "了解需求",
                 "Ask what the customer needs and check the documents they brought.",
                 "询问客户需求，核对客户所带资料。"),
            Step("process", H, 900, MUST, "Process the request", "办理业务",
                 "Process the request or refer the customer to the right counter.",
                 "办理业务，或引导客户至相应窗口。"),
            rating(),
        )),),
    ),
    StandardSpec(
        "CHAT", None, Channel.CHAT, "Online chat", "在线客服服务标准", ("TEL",),
        (Version(13, (
            greet(10),
            Step("identify_need", C, 120, MUST, "Understand the need", "了解需求",
                 "Restate the customer's question to confirm it is understood.",
                 "复述客户问题，确认理解无误。"),
            resolve(900),
            Step("confirm_resolved", R, 1000, MUST, "Confirm it is resolved", "确认已解决",
                 "Ask whether the answer resolves the question before closing the chat.",
                 "结束会话前，确认问题已解决。"),
            rating("survey_invite"),
        )),),
    ),
    StandardSpec(
        "EMAIL", None, Channel.EMAIL, "Email service", "电子邮件服务标准", ("TEL",),
        (Version(13, (
            Step("privacy_check", H, None, MUST, "No personal data in clear", "个人信息保护核查",
                 "Send no full account or identity numbers by email.",
                 "邮件中不得出现完整账号、身份证号等个人信息。"),
            Step("answer", R, None, MUST, "Complete answer", "完整答复",
                 "Answer every question of the email, or say when the rest will follow.",
                 "逐项答复邮件中的问题，不能答复的说明时限。"),
            Step("signature", F, None, MAY, "Name and contact", "署名与联系方式",
                 "Sign with your name and a way to reach the service.", "署名并提供联系方式。"),
        )),),
    ),
    StandardSpec(
        "SOCIAL", None, Channel.SOCIAL, "Social media service", "社交媒体服务标准", ("TEL",),
        (Version(13, (
            Step("public_reply", C, 600, MUST, "Public reply", "公开回复",
                 "Reply publicly, without personal data, and invite the customer to a private "
                 "message.",
                 "公开回复客户，不涉及个人信息，并邀请客户私信沟通。"),
            Step("move_private", H, 900, MUST, "Continue in private", "转私信处理",
                 "Continue in a private message and verify the customer there.",
                 "转入私信沟通，并在私信中核验客户身份。"),
            resolve(3600),
            Step("close_public", F, None, MAY, "Public closing note", "公开结案回复",
                 "Say publicly that the matter was handled.", "公开回复已处理完毕。"),
        )),),
    ),
    StandardSpec(
        "APP", None, Channel.APP, "Mobile app service", "手机银行在线服务标准", ("TEL",),
        (Version(13, (
            greet(10),
            verify(60),
            Step("fraud_warning", H, 120, DISCLOSE, "Fraud warning", "防诈骗提示",
                 "Warn of telecom fraud before any transfer to a new payee.",
                 "向新收款人转账前，进行防电信网络诈骗风险提示。"),
            resolve(600),
            rating("survey_invite"),
        )),),
    ),
)  # fmt: skip

# (channel, measure, threshold, target share %, months before the seed's day).
LEVELS = (
    (Channel.PHONE, ServiceLevelMetric.ANSWER_WITHIN, 30, 80, 13),
    (Channel.PHONE, ServiceLevelMetric.ANSWER_WITHIN, 20, 80, 6),
    (Channel.CHAT, ServiceLevelMetric.FIRST_REPLY_WITHIN, 30, 80, 13),
    (Channel.BRANCH, ServiceLevelMetric.WAIT_WITHIN, 15 * 60, 80, 13),
    (Channel.EMAIL, ServiceLevelMetric.REPLY_WITHIN_BUSINESS_DAYS, 1, 80, 13),
    (Channel.SOCIAL, ServiceLevelMetric.FIRST_REPLY_WITHIN, 3600, 80, 13),
    (Channel.APP, ServiceLevelMetric.FIRST_REPLY_WITHIN, 60, 80, 13),
)

# The demo agent reads and acknowledges the deposit standard (the counter standard is left for
# them to acknowledge in the demo).
ACKNOWLEDGED_BY_AGENT = ("DEP-COUNTER",)


def months_before(day: date, months: int) -> datetime:
    """Midnight of the first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    first = date(index // 12, index % 12 + 1, 1)
    return datetime.combine(first, time(), tzinfo=timezone.get_current_timezone())


def version_for(spec: StandardSpec, at: datetime, today: date) -> Version | None:
    """The version of ``spec`` in force at ``at`` (for generating what staff did then)."""
    current = None
    for start, version in _starts(spec, today):
        if start <= at:
            current = version
    return current


@cache
def _starts(spec: StandardSpec, today: date) -> tuple[tuple[datetime, Version], ...]:
    return tuple((months_before(today, v.months_before), v) for v in spec.versions)


@dataclass
class StandardsSummary:
    standards: int = 0
    versions: int = 0
    levels: int = 0


def standards_seed(*, today: date | None = None) -> StandardsSummary:
    """Write the demo standards and service levels (inside the seed's transaction), as the demo
    compliance officer."""
    today = today or timezone.localdate()
    officer = User.objects.get(username="compliance")
    types = dict(BusinessType.objects.values_list("code", "pk"))
    teams = list(Department.objects.filter(kind="team").values_list("pk", "code"))
    summary = StandardsSummary()
    for spec in STANDARDS:
        if spec.business_type and spec.business_type not in types:
            continue  # a tree without the JR/T 0169 catalogue
        audience = [pk for pk, code in teams if code.rsplit("-", 1)[-1] in spec.audience]
        business_type = (
            BusinessType.objects.get(pk=types[spec.business_type]) if spec.business_type else None
        )
        standard = services.standard_create(
            actor=officer,
            code=spec.code,
            name_en=spec.name_en,
            name_zh=spec.name_zh,
            business_type=business_type,
            channel=spec.channel,
            departments=list(Department.objects.filter(pk__in=audience)),
        )
        for version in spec.versions:
            _publish(officer, standard, version, today)
            summary.versions += 1
        summary.standards += 1
    for channel, metric, threshold, share, months in LEVELS:
        services.service_level_set(
            actor=officer,
            channel=channel,
            metric=metric,
            threshold=threshold,
            target_share=share,
            effective_from=months_before(today, months),
        )
        summary.levels += 1
    _acknowledge_as_agent(today)
    return summary


def _publish(officer, standard, version: Version, today: date) -> StandardVersion:
    draft = services.standard_version_draft(actor=officer, standard=standard)
    for step in draft.steps.all():
        services.standard_step_remove(actor=officer, step=step)
    services.standard_version_update(
        actor=officer, version=draft, summary_en=version.summary_en, summary_zh=version.summary_zh
    )
    for step in version.steps:
        services.standard_step_add(
            actor=officer,
            version=draft,
            code=step.code,
            phase=step.phase,
            name_en=step.name_en,
            name_zh=step.name_zh,
            description_en=step.description_en,
            description_zh=step.description_zh,
            target_seconds=step.target,
            mandatory=step.need in {MUST, DISCLOSE},
            is_disclosure=step.need == DISCLOSE,
        )
    return services.standard_version_publish(
        actor=officer, version=draft, effective_from=months_before(today, version.months_before)
    )


def _acknowledge_as_agent(today: date) -> None:
    agent = User.objects.filter(username="agent").first()
    if agent is None:
        return
    for version in StandardVersion.objects.filter(
        standard__code__in=ACKNOWLEDGED_BY_AGENT, state="published", effective_to__isnull=True
    ):
        services.standard_acknowledge(user=agent, version=version)
