"""The second pass of an import: the rows the first pass parsed, read back from its spool, and
new records inserted with a preparation step that runs while they are written."""

import io
import pickle
from datetime import date
from decimal import Decimal

import pytest

from servicecharter.core import imports as ci
from servicecharter.core.imports import Column, Importer, Report
from servicecharter.org.models import Department

pytestmark = pytest.mark.django_db


class Toy(Importer):
    kind = "toy"
    key = "code"
    batch_size = 2
    columns = (
        Column("code", ("编码",), True, ci.code_text(10)),
        Column("amount", ("金额",), False, ci.money()),
        Column("since", (), False, ci.a_date),
    )

    def apply_batch(self, rows):
        self.applied = [*getattr(self, "applied", []), *rows]


class Unreadable(io.BytesIO):
    def read(self, *args):
        raise AssertionError("the second pass read the file again")


CONTENT = b"code,amount,since\nA,1,2024-03-01\nB,x,\nC,2.5,\nA,3,\nD,,2024/1/2\n"


def test_the_second_pass_applies_what_the_first_parsed_without_reading_the_file_again():
    importer = Toy(user=None)
    report, total = ci.validate(importer, io.BytesIO(CONTENT), "toy.csv")
    assert total == 5
    assert sorted(report.bad_lines) == [3, 5]  # B's amount, A's second appearance

    applied = ci.apply(importer, Unreadable(), "toy.csv", report)

    assert applied == 3
    assert [(row.line, row.values) for row in importer.applied] == [
        (2, {"code": "A", "amount": Decimal("1.00"), "since": date(2024, 3, 1)}),
        (4, {"code": "C", "amount": Decimal("2.50"), "since": None}),
        (6, {"code": "D", "amount": None, "since": date(2024, 1, 2)}),
    ]
    assert report.spool is None  # read once, then closed


def test_the_second_pass_knows_the_columns_even_with_a_fresh_importer():
    report, _total = ci.validate(Toy(user=None), io.BytesIO(b"Code,Amount\nA,1\n"), "toy.csv")
    fresh = Toy(user=None)
    ci.apply(fresh, Unreadable(), "toy.csv", report)
    assert fresh.present == {"code", "amount"}
    assert fresh.file_headers == {"code": "Code", "amount": "Amount"}


def test_progress_counts_every_row_of_the_file_bad_ones_included():
    importer = Toy(user=None)
    report, _total = ci.validate(importer, io.BytesIO(CONTENT), "toy.csv")
    done = []
    ci.apply(importer, Unreadable(), "toy.csv", report, on_progress=done.append)
    assert done == [2, 4, 5]


def test_a_report_made_without_the_first_pass_still_applies_from_the_file():
    importer = Toy(user=None)
    report = Report(bad_lines={3})
    applied = ci.apply(importer, io.BytesIO(CONTENT), "toy.csv", report)
    assert applied == 4  # nothing else was checked, so only line 3 is left out
    assert [row.line for row in importer.applied] == [2, 4, 5, 6]


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"", "toy.csv"), (b"amount\n1\n", "toy.csv"), (b"PK\x03\x04 not a zip", "toy.xlsx")],
)
def test_a_refused_file_leaves_no_spool(content, name):
    report, _total = ci.validate(Toy(user=None), io.BytesIO(content), name)
    assert report.file_error
    assert report.spool is None


def test_the_masked_value_is_still_the_masked_value_after_the_spool():
    masked = ci.Masked()
    assert ci.Masked() is masked
    assert pickle.loads(pickle.dumps({"phone": masked}))["phone"] is masked


# bulk_insert with a preparation step -------------------------------------------------------


def _new_departments(count: int) -> list[Department]:
    return [
        Department(code=f"N{number}", name_en="", name_zh="", kind="team", path="")
        for number in range(count)
    ]


def test_bulk_insert_prepares_every_record_once_in_order_before_writing_it(monkeypatch):
    monkeypatch.setattr(ci, "PREPARE_CHUNK", 3)
    records = _new_departments(7)
    chunks = []

    def prepare(chunk):
        assert all(record.pk is None and record._state.db is None for record in chunk)
        chunks.append([record.code for record in chunk])
        for record in chunk:
            record.name_en = f"prepared {record.code}"

    ci.bulk_insert(Department, records, 1000, prepare=prepare)

    codes = [record.code for record in records]
    assert [code for chunk in chunks for code in chunk] == codes
    assert all(record.pk for record in records)
    stored = dict(Department.objects.filter(code__in=codes).values_list("pk", "name_en"))
    assert stored == {record.pk: f"prepared {record.code}" for record in records}


def test_bulk_insert_without_records_does_nothing():
    ci.bulk_insert(Department, [], 1000, prepare=pytest.fail)
    assert not Department.objects.exists()


class Failing(Toy):
    closed = False

    def apply_batch(self, rows):
        raise RuntimeError("the database went away")

    def close(self):
        self.closed = True


def test_the_importer_is_closed_when_the_second_pass_fails():
    importer = Failing(user=None)
    report, _total = ci.validate(importer, io.BytesIO(CONTENT), "toy.csv")
    with pytest.raises(RuntimeError):
        ci.apply(importer, Unreadable(), "toy.csv", report)
    assert importer.closed


# Keys sent to the database in one parameter ------------------------------------------------


def test_keys_of_any_script_and_punctuation_are_found():
    codes = ["北京-01", "O'Brien", 'say "hi"', "back\\slash", "emoji 🙂"]
    for code in [*codes, "other"]:
        Department.objects.create(code=code, name_en="", name_zh="", kind="team", path="")
    found = ci.filter_keys(Department.objects.all(), "code", [*codes, "missing"])
    assert sorted(found.values_list("code", flat=True)) == sorted(codes)


def test_a_repeated_key_of_any_script_is_found_in_a_later_batch():
    content = "code\n北京\nO'Brien\n上海\n北京\n🙂\nO'Brien\n".encode()
    report, _total = ci.validate(Toy(user=None), io.BytesIO(content), "toy.csv")
    assert [(e["line"], e["params"]) for e in report.errors] == [
        (5, {"value": "北京", "line": 2}),
        (7, {"value": "O'Brien", "line": 3}),
    ]
