"""The shipped taxonomies: JR/T 0169-2018 (business type × cause) and the CFPB product / issue
tree, both languages, in every database, loaded in bulk and idempotently."""

import csv

from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicecharter.cases import taxonomy
from servicecharter.cases.choices import CategoryAxis, TaxonomyScheme
from servicecharter.cases.models import Category
from servicecharter.demo.cases import data_file
from servicecharter.org.catalogue import BUSINESS_TYPES


def _codes(scheme, axis) -> set[str]:
    return set(Category.objects.filter(scheme=scheme, axis=axis).values_list("code", flat=True))


def test_every_database_has_the_shipped_taxonomies(db):
    assert Category.objects.count() == len(taxonomy.default_nodes())
    assert not Category.objects.filter(name_en="").exists()
    assert not Category.objects.filter(name_zh="").exists()


def test_the_jrt_business_types_are_the_catalogues_codes(db):
    business_types = _codes(TaxonomyScheme.JRT0169, CategoryAxis.BUSINESS_TYPE)
    assert business_types == {entry.code for entry in BUSINESS_TYPES}
    credit_cards = Category.objects.get(scheme=TaxonomyScheme.JRT0169, code="B0302")
    assert (credit_cards.parent.code, credit_cards.name_zh) == ("B03", "信用卡")


def test_the_jrt_causes_include_those_of_the_regulations(db):
    causes = {
        category.name_zh
        for category in Category.objects.filter(
            scheme=TaxonomyScheme.JRT0169, axis=CategoryAxis.CAUSE
        )
    }
    for cause in (
        "服务态度及服务质量",
        "管理制度、业务规则与流程",
        "营销方式和手段",
        "信息披露",
        "产品收益",
        "自主选择权",
        "合同条款",
        "消费者资金安全",
        "消费者信息安全",
        "定价收费",
        "其他",
    ):
        assert cause in causes
    attitude = Category.objects.get(scheme=TaxonomyScheme.JRT0169, code="C0801")
    assert attitude.parent.code == "C08" and attitude.axis == CategoryAxis.CAUSE


def test_every_product_and_issue_of_the_cfpb_sample_has_its_category(db):
    pairs = set()
    with open(data_file("cfpb_complaints_sample.csv"), encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            pairs.add((row["Product"], row["Issue"]))
    issues = {
        code: parent
        for code, parent in Category.objects.filter(
            scheme=TaxonomyScheme.CFPB, axis=CategoryAxis.ISSUE
        ).values_list("code", "parent__code")
    }
    for product, issue in pairs:
        code = taxonomy.cfpb_issue_code(product, issue)
        assert issues.get(code) == taxonomy.cfpb_product_code(product), (product, issue)
    assert len(issues) == len(pairs)


def test_a_cfpb_issue_keeps_its_exact_english_text_and_has_a_chinese_label(db):
    issue = Category.objects.get(
        scheme=TaxonomyScheme.CFPB,
        code=taxonomy.cfpb_issue_code(
            "Debt collection", "Took or threatened to take negative or legal action"
        ),
    )
    assert issue.name_en == "Took or threatened to take negative or legal action"
    assert issue.name_zh == "采取或威胁采取不利或法律行动"
    assert issue.parent.name_en == "Debt collection"


def test_codes_of_values_not_shipped_are_stable_and_fit_the_column():
    product = "Payday loan, title loan, personal loan, or advance loan " * 3
    issue = "Something new the CFPB added after the sample was taken, with a very long name"
    code = taxonomy.cfpb_issue_code(product, issue)
    assert code == taxonomy.cfpb_issue_code(product.strip(), f" {issue} ")
    assert len(code) <= taxonomy.CODE_MAX
    assert code != taxonomy.cfpb_issue_code(product, issue + " (2)")
    assert taxonomy.cfpb_product_code("Debt collection") == "debt_collection"


def test_loading_again_changes_nothing_and_keeps_an_administrators_edits(db):
    category = Category.objects.get(scheme=TaxonomyScheme.JRT0169, code="C08")
    category.name_en = "Attitude and quality of service"
    category.save(update_fields=["name_en"])
    before = Category.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert taxonomy.taxonomy_load() == 0
    assert len(queries) == 1  # one read of the keys, nothing to write
    assert Category.objects.count() == before
    category.refresh_from_db()
    assert category.name_en == "Attitude and quality of service"


def test_an_empty_table_is_filled_in_a_few_bulk_queries(db):
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        created = taxonomy.taxonomy_load()
    assert created == len(taxonomy.default_nodes())
    assert len(queries) <= 8  # a read, then an insert and a read per tree level
    b0302 = Category.objects.get(scheme=TaxonomyScheme.JRT0169, code="B0302")
    assert b0302.parent.code == "B03"
