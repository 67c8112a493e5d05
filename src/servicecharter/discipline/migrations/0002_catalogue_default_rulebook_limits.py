"""Data: the catalogue of violation types, the default CN rulebook (version 1, published, in
force from 2026-01-01) and the lawful limits for CN, UK and US.

The rulebook is a template. Before an institution relies on it, it must be adopted through the
democratic procedure of Labour Contract Law art. 4 (staff congress or all staff) and published;
a new version records that approval. The limits' figures must be checked against the current
local law (see each row's note)."""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import migrations

# code, category, default severity, default impact, source, English, Chinese, description (en)
TYPES = (
    ("late_handling", "timeliness", "minor", "one_customer", "case.deadline_breached",
     "Complaint handled after its deadline", "投诉处理超时",
     "A complaint the employee handled breached its regulatory deadline."),
    ("upheld_attitude", "attitude", "moderate", "one_customer", "case.upheld_against_staff",
     "Upheld complaint about service attitude", "服务态度投诉成立",
     "A complaint about the employee's attitude was upheld."),
    ("upheld_process", "process", "minor", "one_customer", "case.upheld_against_staff",
     "Upheld complaint about handling", "业务办理投诉成立",
     "A complaint naming the employee was upheld for how the matter was handled."),
    ("complaint_reopened", "quality", "minor", "one_customer", "case.reopened",
     "Complaint reopened after the response", "投诉答复后重新打开",
     "The customer rejected the response the employee gave, or came back with the same matter."),
    ("decision_overturned", "process", "moderate", "one_customer", "case.overturned",
     "Complaint decision overturned externally", "投诉处理结论被外部推翻",
     "A regulator or ombudsman found against the institution on a complaint the employee handled."),
    ("critical_item_failed", "compliance", "moderate", "one_customer", "evaluation.auto_failed",
     "Critical quality item failed", "质检关键项不合格",
     "A quality evaluation failed a critical (auto-fail) item, such as identity verification."),
    ("review_failed", "quality", "moderate", "department", "review.failed",
     "Named in a failed quality review", "质量检查未通过（被点名）",
     "A departmental quality review failed and one of its findings names the employee."),
    ("persistent_unsatisfactory", "quality", "moderate", "one_customer",
     "assessment.unsatisfactory",
     "Unsatisfactory in consecutive assessment periods", "连续考核不合格",
     "The employee's assessment tier was unsatisfactory in consecutive closed periods."),
    ("rude_conduct", "attitude", "minor", "one_customer", "",
     "Rude or dismissive conduct", "态度生硬、推诿",
     "Observed by a supervisor or reported by a colleague."),
    ("procedure_breach", "process", "minor", "one_customer", "",
     "Procedure not followed", "未按流程办理", ""),
    ("mis_selling", "compliance", "serious", "several_customers", "",
     "Mis-selling or unsuitable advice", "误导销售、适当性违规", ""),
    ("privacy_breach", "compliance", "serious", "one_customer", "",
     "Customer information disclosed without authority", "违规泄露客户信息", ""),
    ("fraud", "misconduct", "severe", "institution", "",
     "Fraud, embezzlement or bribery", "欺诈、侵占或受贿", ""),
)

# order, code, conditions, measure, amount, months, explanation (en, zh)
RULES = (
    (10, "MISCONDUCT_SEVERE", {"category": "misconduct", "min_severity": "severe"}, "dismissal",
     {}, 24, "Severe misconduct is a serious breach of the rules (Labour Contract Law art. 39).",
     "严重违纪属于严重违反用人单位规章制度（劳动合同法第三十九条）。"),
    (20, "SEVERE", {"min_severity": "severe"}, "demotion", {"demotion_grades": 1}, 24,
     "A severe breach that is not misconduct: demotion by one grade.",
     "非违纪类的严重违规：降一级。"),
    (30, "SERIOUS_WIDE", {"min_severity": "serious", "min_impact": "institution"}, "demotion",
     {"demotion_grades": 1}, 24,
     "A serious breach that reached the whole institution or the public.",
     "影响全机构或造成公众影响的较重违规。"),
    (40, "SERIOUS", {"min_severity": "serious"}, "pay_reduction",
     {"wage_percent": Decimal(10), "amount_cap": Decimal(3000)}, 18,
     "A serious breach: 10% of the monthly performance pay, at most 3,000.",
     "较重违规：扣减当月绩效工资的10%，最多3,000元。"),
    (50, "FOURTH", {"min_priors": 3}, "demotion", {"demotion_grades": 1}, 24,
     "The fourth confirmed breach inside a year.", "一年内第四次确认的违规。"),
    (60, "THIRD", {"min_priors": 2}, "pay_reduction",
     {"wage_percent": Decimal(5), "fixed_amount": Decimal(200), "amount_cap": Decimal(1500)}, 18,
     "The third confirmed breach inside a year: 5% of the monthly performance pay (at least 200, "
     "at most 1,500).",
     "一年内第三次确认的违规：扣减当月绩效工资的5%（不少于200元，不超过1,500元）。"),
    (70, "MODERATE_REPEAT", {"min_severity": "moderate", "min_priors": 1}, "pay_reduction",
     {"wage_percent": Decimal(3), "amount_cap": Decimal(1000)}, 18,
     "A moderate breach after an earlier one: 3% of the monthly performance pay.",
     "再次发生的一般违规：扣减当月绩效工资的3%。"),
    (80, "SECOND", {"min_priors": 1}, "written_warning", {}, 12,
     "A second minor breach inside a year: written warning.", "一年内第二次轻微违规：书面警告。"),
    (90, "MODERATE_FIRST", {"min_severity": "moderate"}, "written_warning", {}, 12,
     "A first moderate breach: written warning.", "首次一般违规：书面警告。"),
    (100, "COMPLIANCE_FIRST", {"category": "compliance"}, "remedial_training",
     {"training": "Compliance refresher course (合规再培训)"}, 6,
     "A first minor compliance breach: the compliance refresher course.",
     "首次轻微合规违规：参加合规再培训。"),
    (110, "FIRST", {}, "verbal_warning", {}, 6,
     "A first minor breach: verbal warning.", "首次轻微违规：口头警告。"),
)

FACTORS = (
    ("self_reported", "mitigating", 1, "Reported it oneself", "主动报告"),
    ("remedied", "mitigating", 1, "Put it right promptly", "及时纠正、挽回损失"),
    ("repeated_after_warning", "aggravating", 1, "Repeated after a warning", "警告后再犯"),
    ("vulnerable_customer", "aggravating", 1, "The customer was vulnerable", "涉及弱势客户"),
    ("concealment", "aggravating", 2, "Concealed or obstructed the review", "隐瞒或阻挠调查"),
)

LIMITS = (
    ("CN", "pay_reduction", Decimal(20), Decimal("2690.00"), "CNY",
     "工资支付暂行规定 art. 16: deductions for losses caused by the employee are at most 20% of the "
     "month's wage, and the wage paid may not fall below the local minimum wage. Employer fines "
     "lost their legal basis in 2008 (企业职工奖惩条例 repealed): a performance-pay reduction under "
     "rules adopted by art. 4 Labour Contract Law is used instead. Minimum wage: Beijing's monthly "
     "figure, 2,690 CNY, entered as an example — CHECK the current figure for each location "
     "(local human resources and social security bureau) before relying on it."),
    ("UK", "disabled", Decimal(20), Decimal("1984.13"), "GBP",
     "Employment Rights Act 1996 s.13: a deduction is lawful only under a contract term or prior "
     "written consent (s.18's 10% cap binds retail workers only); pay may not fall below the "
     "National Minimum Wage. 1,984.13 GBP = National Living Wage 12.21/hour × 37.5 hours × 52 / "
     "12 (April 2025) — CHECK the current rate and contracted hours; the 20% cap is the "
     "institution's own."),
    ("US", "disabled", Decimal(20), Decimal("1256.67"), "USD",
     "FLSA: deductions may not reduce pay below the federal minimum wage (7.25/hour × 40 × 52 / "
     "12 = 1,256.67 USD); many states are stricter on deductions and set higher minimum wages — "
     "CHECK the state law for each location. The 20% cap is the institution's own."),
)


def forwards(apps, schema_editor):
    ViolationType = apps.get_model("discipline", "ViolationType")
    Rulebook = apps.get_model("discipline", "Rulebook")
    RulebookVersion = apps.get_model("discipline", "RulebookVersion")
    Rule = apps.get_model("discipline", "Rule")
    Factor = apps.get_model("discipline", "Factor")
    LawfulLimits = apps.get_model("discipline", "LawfulLimits")
    for code, category, severity, impact, source, en, zh, description in TYPES:
        ViolationType.objects.get_or_create(
            code=code,
            defaults={
                "category": category,
                "default_severity": severity,
                "default_impact": impact,
                "source": source,
                "name_en": en,
                "name_zh": zh,
                "description_en": description,
            },
        )
    rulebook, created = Rulebook.objects.get_or_create(
        code="CN-DEFAULT",
        defaults={
            "name_en": "Staff conduct and sanctions rulebook",
            "name_zh": "员工行为与违规处理办法",
            "jurisdiction": "CN",
        },
    )
    if created:
        version = RulebookVersion.objects.create(
            rulebook=rulebook,
            number=1,
            state="published",
            effective_from=date(2026, 1, 1),
            lookback_days=365,
            appeal_days=15,
            approval_note=(
                "Default template shipped with the system. Adopt it (or a revised version) "
                "through the staff congress or all-staff consultation required by Labour "
                "Contract Law art. 4, record that approval on a new version, and publish it."
            ),
            published_at=datetime(2025, 12, 15, tzinfo=UTC),
        )
        for order, code, conditions, measure, amount, months, en, zh in RULES:
            Rule.objects.create(
                version=version,
                order=order,
                code=code,
                measure=measure,
                in_force_months=months,
                explanation_en=en,
                explanation_zh=zh,
                **conditions,
                **amount,
            )
        for code, effect, steps, en, zh in FACTORS:
            Factor.objects.create(
                version=version, code=code, effect=effect, steps=steps, name_en=en, name_zh=zh
            )
    for jurisdiction, policy, cap, minimum, currency, note in LIMITS:
        LawfulLimits.objects.get_or_create(
            jurisdiction=jurisdiction,
            defaults={
                "fine_policy": policy,
                "deduction_cap_percent": cap,
                "minimum_wage": minimum,
                "currency": currency,
                "note": note,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("discipline", "0001_discipline_catalogue_rulebook_decisions_appeals")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
