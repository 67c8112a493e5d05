"""The two complaint taxonomies shipped by default, as data, in English and Chinese.

**JR/T 0169-2018** (金融消费者投诉统计分类及编码 银行业金融机构) classifies a complaint on three
axes: A = channel (``org.choices.Channel``), B = business type, C = cause. The business-type
axis reuses the codes of the org module's business-type catalogue (``org.catalogue``), so a
product's business type and a case's category read the same. The cause axis follows the causes
../shared/REGULATIONS.md lists; the code numbers and their order are a working default
(unverified against the primary text), as are the sub-causes under C08 marked below.

**CFPB** product / issue tree: every ``Product`` and ``Issue`` value found in
../shared/data/cfpb_complaints_sample.csv, old and new CFPB product names alike (the export keeps
both), with Chinese labels. Codes are derived from the English text by ``cfpb_product_code`` and
``cfpb_issue_code``, so an importer meeting a value not listed here can make the same code.

``taxonomy_load()`` creates what is missing in a few bulk queries and leaves existing rows (and an
administrator's edits of them) alone; a data migration of this app runs it on every database.
"""

import hashlib
import re
from dataclasses import dataclass

from servicecharter.cases.choices import CategoryAxis, TaxonomyScheme
from servicecharter.org.catalogue import BUSINESS_TYPES

CODE_MAX = 64  # Category.code


@dataclass(frozen=True)
class Node:
    scheme: str
    axis: str
    code: str
    name_en: str
    name_zh: str
    parent: str | None = None  # the parent's code, on the parent's axis (see PARENT_AXIS)


# A child's parent sits on this axis (an issue under its product; otherwise the same axis).
PARENT_AXIS = {
    CategoryAxis.BUSINESS_TYPE: CategoryAxis.BUSINESS_TYPE,
    CategoryAxis.CAUSE: CategoryAxis.CAUSE,
    CategoryAxis.PRODUCT: CategoryAxis.PRODUCT,
    CategoryAxis.ISSUE: CategoryAxis.PRODUCT,
}


# --- JR/T 0169-2018 ----------------------------------------------------------------------------

# Cause axis (C). Numbering unverified: the standard's own code table was not at hand.
JRT_CAUSES: tuple[tuple[str, str, str, str | None], ...] = (
    ("C01", "Management systems, business rules and processes", "管理制度、业务规则与流程", None),
    ("C02", "Marketing methods and means", "营销方式和手段", None),
    ("C03", "Information disclosure", "信息披露", None),
    ("C04", "Right to choose freely", "自主选择权", None),
    ("C05", "Pricing and fees", "定价收费", None),
    ("C06", "Product returns and yield", "产品收益", None),
    ("C07", "Contract terms", "合同条款", None),
    ("C08", "Service attitude and service quality", "服务态度及服务质量", None),
    # C0801–C0803: a working default of this system, not from the standard (unverified).
    ("C0801", "Service attitude", "服务态度", "C08"),
    ("C0802", "Waiting time and efficiency", "等候时间与办理效率", "C08"),
    ("C0803", "Professional knowledge and accuracy", "专业能力与准确性", "C08"),
    ("C09", "Security of consumers' funds", "消费者资金安全", None),
    ("C10", "Security of consumers' information", "消费者信息安全", None),
    ("C11", "Debt collection methods and means", "债务催收方式和手段", None),  # unverified
    ("C99", "Other causes", "其他", None),
)


def _jrt_nodes() -> list[Node]:
    scheme = TaxonomyScheme.JRT0169
    nodes = [
        Node(scheme, CategoryAxis.BUSINESS_TYPE, e.code, e.name_en, e.name_zh, e.parent)
        for e in BUSINESS_TYPES
    ]
    nodes += [
        Node(scheme, CategoryAxis.CAUSE, code, en, zh, parent)
        for code, en, zh, parent in JRT_CAUSES
    ]
    return nodes


# --- CFPB product / issue ----------------------------------------------------------------------

# Product (verbatim, as in the CFPB export) → (short code, Chinese).
CFPB_PRODUCTS: dict[str, tuple[str, str]] = {
    "Bank account or service": ("bank_account", "银行账户或服务（旧分类）"),
    "Checking or savings account": ("checking_savings", "支票或储蓄账户"),
    "Consumer Loan": ("consumer_loan", "消费贷款（旧分类）"),
    "Credit card": ("credit_card", "信用卡（旧分类）"),
    "Credit card or prepaid card": ("credit_prepaid_card", "信用卡或预付卡"),
    "Credit reporting, credit repair services, or other personal consumer reports": (
        "credit_reporting",
        "征信报告、信用修复服务或其他个人消费者报告",
    ),
    "Debt collection": ("debt_collection", "债务催收"),
    "Money transfer, virtual currency, or money service": (
        "money_transfer",
        "汇款、虚拟货币或货币服务",
    ),
    "Mortgage": ("mortgage", "住房抵押贷款"),
    "Payday loan": ("payday_loan", "发薪日贷款（旧分类）"),
    "Payday loan, title loan, or personal loan": (
        "payday_title_personal_loan",
        "发薪日贷款、产权抵押贷款或个人贷款",
    ),
    "Payday loan, title loan, personal loan, or advance loan": (
        "payday_title_personal_advance_loan",
        "发薪日贷款、产权抵押贷款、个人贷款或预支贷款",
    ),
    "Student loan": ("student_loan", "学生贷款"),
    "Vehicle loan or lease": ("vehicle_loan", "汽车贷款或租赁"),
}

# Issue (verbatim) → Chinese. One entry per distinct text; the tree below places them.
CFPB_ISSUE_ZH: dict[str, str] = {
    "Account opening, closing, or management": "开户、销户或账户管理",
    "Advertising": "广告",
    "Advertising and marketing, including promotional offers": "广告与营销（含促销优惠）",
    "Application processing delay": "申请处理延误",
    "Applying for a mortgage": "申请住房抵押贷款",
    "Applying for a mortgage or refinancing an existing mortgage": "申请住房抵押贷款或再融资",
    "Attempts to collect debt not owed": "催收并不存在的债务",
    "Can't contact lender or servicer": "无法联系贷款机构或服务商",
    "Can't stop withdrawals from your bank account": "无法停止从银行账户扣款",
    "Charged fees or interest I didn't expect": "被收取意料之外的费用或利息",
    "Charged fees or interest you didn't expect": "被收取意料之外的费用或利息",
    "Closing an account": "销户",
    "Closing on a mortgage": "住房抵押贷款交割",
    "Closing your account": "注销账户",
    "Communication tactics": "沟通方式",
    "Confusing or missing disclosures": "信息披露含糊或缺失",
    "Cont'd attempts collect debt not owed": "持续催收并不存在的债务",
    "Credit limit changed": "信用额度被调整",
    "Credit monitoring or identity theft protection services": "信用监控或身份盗用保护服务",
    "Dealing with your lender or servicer": "与贷款机构或服务商打交道",
    "Disclosure verification of debt": "债务披露与核实",
    "Excessive fees": "收费过高",
    "False statements or representation": "虚假陈述或表述",
    "Fees or interest": "费用或利息",
    "Fraud or scam": "欺诈或诈骗",
    "Getting a credit card": "申领信用卡",
    "Getting a line of credit": "获得授信额度",
    "Getting a loan": "获得贷款",
    "Getting a loan or lease": "获得贷款或租赁",
    "Getting the loan": "获得贷款",
    "Identity theft protection or other monitoring services": "身份盗用保护或其他监控服务",
    "Improper contact or sharing of info": "不当联系或分享信息",
    "Improper use of your report": "不当使用信用报告",
    "Incorrect information on your report": "信用报告信息有误",
    "Loan modification,collection,foreclosure": "贷款变更、催收、止赎",
    "Loan payment wasn't credited to your account": "还款未入账",
    "Loan servicing, payments, escrow account": "贷款服务、还款、托管账户",
    "Lost or stolen money order": "汇票遗失或被盗",
    "Making/receiving payments, sending money": "付款、收款与汇款",
    "Managing an account": "账户管理",
    "Managing the loan or lease": "贷款或租赁管理",
    "Managing, opening, or closing your mobile wallet account": "移动钱包账户的管理、开立或注销",
    "Money was not available when promised": "资金未按承诺时间到账",
    "Money was taken from your bank account on the wrong day or for the wrong amount": (
        "从银行账户扣款的日期或金额有误"
    ),
    "Opening an account": "开户",
    "Other": "其他",
    "Other features, terms, or problems": "其他功能、条款或问题",
    "Other service problem": "其他服务问题",
    "Other transaction problem": "其他交易问题",
    "Payoff process": "结清流程",
    "Problem adding money": "充值问题",
    "Problem caused by your funds being low": "余额不足引起的问题",
    "Problem getting a card or closing an account": "领卡或销户问题",
    "Problem when making payments": "还款时遇到的问题",
    "Problem with a company's investigation into an existing issue": "公司对已有问题的调查存在问题",
    "Problem with a company's investigation into an existing problem": "公司对已有问题的调查存在问题",
    "Problem with a credit reporting company's investigation into an existing problem": (
        "征信机构对已有问题的调查存在问题"
    ),
    "Problem with a lender or other company charging your account": "贷款机构或其他公司从账户扣款的问题",
    "Problem with a purchase or transfer": "消费或转账问题",
    "Problem with a purchase shown on your statement": "账单上显示的消费有问题",
    "Problem with additional add-on products or services": "附加产品或服务的问题",
    "Problem with cash advance": "预借现金问题",
    "Problem with customer service": "客户服务问题",
    "Problem with fraud alerts or security freezes": "欺诈警示或安全冻结问题",
    "Problem with the payoff process at the end of the loan": "贷款到期结清流程问题",
    "Problems at the end of the loan or lease": "贷款或租赁到期时的问题",
    "Problems when you are unable to pay": "无力还款时遇到的问题",
    "Property was damaged or destroyed property": "财产受损或被毁",
    "Received a loan you didn't apply for": "收到未曾申请的贷款",
    "Shopping for a loan or lease": "选购贷款或租赁",
    "Struggling to pay mortgage": "难以偿还住房抵押贷款",
    "Struggling to pay your bill": "难以支付账单",
    "Struggling to pay your loan": "难以偿还贷款",
    "Struggling to repay your loan": "难以偿还贷款",
    "Taking/threatening an illegal action": "采取或威胁采取违法行动",
    "Threatened to contact someone or share information improperly": "威胁联系他人或不当分享信息",
    "Took or threatened to take negative or legal action": "采取或威胁采取不利或法律行动",
    "Trouble during payment process": "还款过程中的问题",
    "Trouble using the card": "用卡问题",
    "Trouble using your card": "用卡问题",
    "Unable to get your credit report or credit score": "无法获取信用报告或信用评分",
    "Unauthorized transactions or other transaction problem": "未经授权的交易或其他交易问题",
    "Unexpected or other fees": "意外收费或其他费用",
    "Vehicle was damaged or destroyed the vehicle": "车辆受损或被毁",
    "Vehicle was repossessed or sold the vehicle": "车辆被收回或出售",
    "Was approved for a loan, but didn't receive money": "贷款已获批但未收到款项",
    "Was approved for a loan, but didn't receive the money": "贷款已获批但未收到款项",
    "Written notification about debt": "债务书面通知",
}

# Product → its issues, as they occur in the sample.
CFPB_TREE: dict[str, tuple[str, ...]] = {
    "Bank account or service": (
        "Account opening, closing, or management",
        "Making/receiving payments, sending money",
    ),
    "Checking or savings account": (
        "Closing an account",
        "Credit monitoring or identity theft protection services",
        "Incorrect information on your report",
        "Managing an account",
        "Opening an account",
        "Problem caused by your funds being low",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problem with a lender or other company charging your account",
    ),
    "Consumer Loan": (
        "Managing the loan or lease",
        "Problems when you are unable to pay",
        "Shopping for a loan or lease",
    ),
    "Credit card": ("Application processing delay", "Other", "Payoff process"),
    "Credit card or prepaid card": (
        "Advertising",
        "Advertising and marketing, including promotional offers",
        "Closing your account",
        "Fees or interest",
        "Getting a credit card",
        "Improper use of your report",
        "Incorrect information on your report",
        "Other features, terms, or problems",
        "Problem getting a card or closing an account",
        "Problem when making payments",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problem with a purchase or transfer",
        "Problem with a purchase shown on your statement",
        "Struggling to pay your bill",
        "Trouble using the card",
        "Trouble using your card",
        "Unexpected or other fees",
    ),
    "Credit reporting, credit repair services, or other personal consumer reports": (
        "Credit monitoring or identity theft protection services",
        "Excessive fees",
        "Fraud or scam",
        "Identity theft protection or other monitoring services",
        "Improper use of your report",
        "Incorrect information on your report",
        "Problem with a company's investigation into an existing issue",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problem with customer service",
        "Problem with fraud alerts or security freezes",
        "Unable to get your credit report or credit score",
    ),
    "Debt collection": (
        "Attempts to collect debt not owed",
        "Communication tactics",
        "Cont'd attempts collect debt not owed",
        "Disclosure verification of debt",
        "False statements or representation",
        "Improper contact or sharing of info",
        "Taking/threatening an illegal action",
        "Threatened to contact someone or share information improperly",
        "Took or threatened to take negative or legal action",
        "Written notification about debt",
    ),
    "Money transfer, virtual currency, or money service": (
        "Confusing or missing disclosures",
        "Fraud or scam",
        "Lost or stolen money order",
        "Managing, opening, or closing your mobile wallet account",
        "Money was not available when promised",
        "Other service problem",
        "Other transaction problem",
        "Problem adding money",
        "Problem with customer service",
        "Unauthorized transactions or other transaction problem",
        "Unexpected or other fees",
    ),
    "Mortgage": (
        "Applying for a mortgage",
        "Applying for a mortgage or refinancing an existing mortgage",
        "Closing on a mortgage",
        "Incorrect information on your report",
        "Loan modification,collection,foreclosure",
        "Loan servicing, payments, escrow account",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Struggling to pay mortgage",
        "Trouble during payment process",
    ),
    "Payday loan": ("Charged fees or interest I didn't expect",),
    "Payday loan, title loan, or personal loan": (
        "Can't contact lender or servicer",
        "Can't stop withdrawals from your bank account",
        "Charged fees or interest you didn't expect",
        "Credit limit changed",
        "Credit monitoring or identity theft protection services",
        "Getting a line of credit",
        "Getting the loan",
        "Improper use of your report",
        "Incorrect information on your report",
        "Loan payment wasn't credited to your account",
        "Money was taken from your bank account on the wrong day or for the wrong amount",
        "Problem when making payments",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problem with additional add-on products or services",
        "Problem with cash advance",
        "Problem with fraud alerts or security freezes",
        "Problem with the payoff process at the end of the loan",
        "Property was damaged or destroyed property",
        "Received a loan you didn't apply for",
        "Struggling to pay your loan",
        "Unable to get your credit report or credit score",
        "Vehicle was damaged or destroyed the vehicle",
        "Vehicle was repossessed or sold the vehicle",
        "Was approved for a loan, but didn't receive money",
        "Was approved for a loan, but didn't receive the money",
    ),
    "Payday loan, title loan, personal loan, or advance loan": (
        "Can't contact lender or servicer",
        "Can't stop withdrawals from your bank account",
        "Charged fees or interest you didn't expect",
        "Credit monitoring or identity theft protection services",
        "Improper use of your report",
        "Incorrect information on your report",
        "Loan payment wasn't credited to your account",
        "Money was taken from your bank account on the wrong day or for the wrong amount",
        "Problem with a company's investigation into an existing problem",
        "Problem with fraud alerts or security freezes",
        "Problem with the payoff process at the end of the loan",
        "Received a loan you didn't apply for",
        "Struggling to pay your loan",
        "Was approved for a loan, but didn't receive the money",
    ),
    "Student loan": (
        "Credit monitoring or identity theft protection services",
        "Dealing with your lender or servicer",
        "Getting a loan",
        "Improper use of your report",
        "Incorrect information on your report",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Struggling to repay your loan",
    ),
    "Vehicle loan or lease": (
        "Getting a loan or lease",
        "Improper use of your report",
        "Incorrect information on your report",
        "Managing the loan or lease",
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problems at the end of the loan or lease",
        "Struggling to pay your loan",
    ),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _fit(code: str) -> str:
    """Codes longer than the column keep their start and gain a short hash, so they stay unique."""
    if len(code) <= CODE_MAX:
        return code
    digest = hashlib.sha1(code.encode()).hexdigest()[:8]
    return f"{code[: CODE_MAX - 9]}_{digest}"


def cfpb_product_code(product: str) -> str:
    """The category code of a CFPB product, listed here or not."""
    product = product.strip()
    if product in CFPB_PRODUCTS:
        return CFPB_PRODUCTS[product][0]
    return _fit(_slug(product))


def cfpb_issue_code(product: str, issue: str) -> str:
    """The category code of a CFPB issue under its product (the same text under two products
    is two categories)."""
    return _fit(f"{cfpb_product_code(product)}.{_slug(issue.strip())}")


def _cfpb_nodes() -> list[Node]:
    scheme = TaxonomyScheme.CFPB
    nodes = []
    for product, issues in CFPB_TREE.items():
        code, zh = CFPB_PRODUCTS[product]
        nodes.append(Node(scheme, CategoryAxis.PRODUCT, code, product, zh))
        nodes += [
            Node(
                scheme,
                CategoryAxis.ISSUE,
                cfpb_issue_code(product, issue),
                issue,
                CFPB_ISSUE_ZH[issue],
                code,
            )
            for issue in issues
        ]
    return nodes


def default_nodes() -> list[Node]:
    """Every shipped category, parents before their children."""
    return _jrt_nodes() + _cfpb_nodes()


# --- loading ------------------------------------------------------------------------------------


def taxonomy_load(*, category_model=None, nodes: list[Node] | None = None) -> int:
    """Create the shipped categories that are missing; returns how many were created.

    Idempotent and bulk: one read of the existing keys, then one insert per tree level.
    ``category_model`` lets a data migration pass its historical model."""
    if category_model is None:
        from servicecharter.cases.models import Category as category_model
    nodes = default_nodes() if nodes is None else nodes
    ids = {
        (scheme, axis, code): pk
        for scheme, axis, code, pk in category_model.objects.values_list(
            "scheme", "axis", "code", "pk"
        )
    }
    created = 0
    pending = [node for node in nodes if (node.scheme, node.axis, node.code) not in ids]
    while pending:
        ready = [node for node in pending if node.parent is None or _parent_key(node) in ids]
        if not ready:
            raise ValueError(f"Categories without their parent: {[n.code for n in pending]}")
        category_model.objects.bulk_create(
            [
                category_model(
                    scheme=node.scheme,
                    axis=node.axis,
                    code=node.code,
                    name_en=node.name_en,
                    name_zh=node.name_zh,
                    parent_id=ids[_parent_key(node)] if node.parent else None,
                )
                for node in ready
            ],
            ignore_conflicts=True,
        )
        created += len(ready)
        ids.update(
            {
                (scheme, axis, code): pk
                for scheme, axis, code, pk in category_model.objects.filter(
                    code__in=[node.code for node in ready]
                ).values_list("scheme", "axis", "code", "pk")
            }
        )
        pending = [node for node in pending if node not in ready]
    return created


def _parent_key(node: Node) -> tuple[str, str, str]:
    return (node.scheme, PARENT_AXIS[node.axis], node.parent)
