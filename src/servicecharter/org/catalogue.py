"""The default business-type catalogue and product list.

Business types follow the business-type axis (B) of JR/T 0169-2018, "Statistical
classification and coding of financial consumer complaints — banking financial institutions":
major classes with subclasses under them, and "99" for "other". Public summaries of the
standard name RMB savings, loans, bank cards, payment and settlement, RMB management and
personal financial information among its major classes; the codes below, their order, the
further classes (foreign exchange, agency business incl. insurance agency, wealth management,
precious metals, debt collection) and the subclasses are a working default (unverified against
the primary text): an institution corrects them on the business-types page.

``load_catalogue()`` creates what is missing through the services and leaves what exists
alone, so it can run on every start of the demo.
"""

from dataclasses import dataclass

from django.db import transaction

from servicecharter.org import services
from servicecharter.org.models import BusinessType, Product


@dataclass(frozen=True)
class Entry:
    code: str
    name_en: str
    name_zh: str
    parent: str | None = None


BUSINESS_TYPES: tuple[Entry, ...] = (
    Entry("B01", "RMB savings and deposits", "人民币储蓄"),
    Entry("B0101", "Current deposits", "活期存款", "B01"),
    Entry("B0102", "Time deposits", "定期存款", "B01"),
    Entry("B0103", "Large-denomination certificates of deposit", "大额存单", "B01"),
    Entry("B0199", "Other deposit business", "其他储蓄业务", "B01"),
    Entry("B02", "Loans", "贷款"),
    Entry("B0201", "Personal housing loans", "个人住房贷款", "B02"),
    Entry("B0202", "Personal consumer loans", "个人消费贷款", "B02"),
    Entry("B0203", "Personal business loans", "个人经营性贷款", "B02"),
    Entry("B0204", "Credit reporting", "征信", "B02"),
    Entry("B0299", "Other loan business", "其他贷款业务", "B02"),
    Entry("B03", "Bank cards", "银行卡"),
    Entry("B0301", "Debit cards", "借记卡", "B03"),
    Entry("B0302", "Credit cards", "信用卡", "B03"),
    Entry("B0399", "Other bank-card business", "其他银行卡业务", "B03"),
    Entry("B04", "Payment and settlement", "支付结算"),
    Entry("B0401", "Account management", "账户管理", "B04"),
    Entry("B0402", "Remittances and transfers", "汇款与转账", "B04"),
    Entry("B0403", "Online and mobile payments", "网络支付与移动支付", "B04"),
    Entry("B0499", "Other payment business", "其他支付结算业务", "B04"),
    Entry("B05", "RMB cash management", "人民币管理"),
    Entry("B0501", "Refusal of cash", "拒收现金", "B05"),
    Entry("B0502", "Exchange of damaged notes and coins", "残损人民币兑换", "B05"),
    Entry("B0503", "Counterfeit currency handling", "假币收缴", "B05"),
    Entry("B06", "Foreign exchange", "外汇"),
    Entry("B0601", "Currency exchange", "结售汇", "B06"),
    Entry("B0602", "Cross-border remittances", "跨境汇款", "B06"),
    Entry("B07", "Personal financial information", "个人金融信息"),
    Entry("B0701", "Information leakage", "信息泄露", "B07"),
    Entry("B0702", "Collection and use without consent", "未经同意收集使用", "B07"),
    Entry("B08", "Agency business", "代理业务"),
    Entry("B0801", "Insurance agency", "代理保险", "B08"),
    Entry("B0802", "Fund agency sales", "代销基金", "B08"),
    Entry("B0803", "Treasury bonds agency", "代理国债", "B08"),
    Entry("B0899", "Other agency business", "其他代理业务", "B08"),
    Entry("B09", "Wealth management", "理财"),
    Entry("B0901", "Wealth management products", "理财产品", "B09"),
    Entry("B0902", "Structured deposits", "结构性存款", "B09"),
    Entry("B10", "Precious metals", "贵金属"),
    Entry("B11", "Debt collection", "债务催收"),
    Entry("B99", "Other business", "其他业务"),
)

# code, English name, Chinese name, business-type code
PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("DEP-CUR", "Current account", "活期储蓄账户", "B0101"),
    ("DEP-TIME", "Time deposit", "整存整取定期存款", "B0102"),
    ("DEP-LCD", "Large-denomination CD", "大额存单", "B0103"),
    ("LN-MORT", "Home mortgage", "个人住房按揭贷款", "B0201"),
    ("LN-CONS", "Personal consumer loan", "个人消费贷款", "B0202"),
    ("LN-BIZ", "Small-business owner loan", "个人经营贷款", "B0203"),
    ("CARD-DEB", "Debit card", "借记卡", "B0301"),
    ("CARD-CRD", "Credit card", "信用卡", "B0302"),
    ("PAY-XFER", "Transfers and remittances", "转账汇款", "B0402"),
    ("PAY-MOB", "Mobile banking payments", "手机银行支付", "B0403"),
    ("FX-EXCH", "Foreign currency exchange", "外币兑换", "B0601"),
    ("WM-PROD", "Wealth management product", "理财产品", "B0901"),
    ("WM-STRD", "Structured deposit", "结构性存款", "B0902"),
    ("INS-LIFE", "Life insurance (agency)", "代理人寿保险", "B0801"),
    ("INS-PROP", "Property insurance (agency)", "代理财产保险", "B0801"),
    ("FUND-AG", "Mutual funds (agency)", "代销公募基金", "B0802"),
    ("GOLD-ACC", "Gold accumulation plan", "积存金", "B10"),
)


@transaction.atomic
def load_catalogue() -> dict[str, int]:
    """Create the missing business types and products; return how many of each were made."""
    existing_types = {bt.code: bt for bt in BusinessType.objects.all()}
    created_types = 0
    # Parents come before their subclasses in BUSINESS_TYPES.
    for entry in BUSINESS_TYPES:
        if entry.code in existing_types:
            continue
        existing_types[entry.code] = services.business_type_create(
            code=entry.code,
            name_en=entry.name_en,
            name_zh=entry.name_zh,
            parent=existing_types[entry.parent] if entry.parent else None,
        )
        created_types += 1
    existing_products = set(Product.objects.values_list("code", flat=True))
    created_products = 0
    for code, name_en, name_zh, business_type in PRODUCTS:
        if code in existing_products:
            continue
        services.product_create(
            code=code,
            name_en=name_en,
            name_zh=name_zh,
            business_type=existing_types[business_type],
        )
        created_products += 1
    return {"business_types": created_types, "products": created_products}
