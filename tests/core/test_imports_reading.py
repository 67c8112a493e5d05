"""Reading import files: encodings, line numbers, blank rows, cell parsers, the error cap."""

import io
from datetime import date
from decimal import Decimal

import pytest

from servicecharter.core import imports as ci
from servicecharter.core.imports import CellError, Column, Importer, Report

# Validation keeps the keys it has met in a temporary table, not in memory.
pytestmark = pytest.mark.django_db


class Toy(Importer):
    kind = "toy"
    key = "code"
    columns = (
        Column("code", ("编码",), True, ci.code_text(10)),
        Column("amount", ("金额",), False, ci.money()),
    )

    def apply_batch(self, rows):
        self.applied = [*getattr(self, "applied", []), *rows]


def validate(content: bytes, name="toy.csv"):
    importer = Toy(user=None)
    report, total = ci.validate(importer, io.BytesIO(content), name)
    return importer, report, total


def test_utf8_with_and_without_bom_and_gb18030_are_detected():
    text = "编码,金额\nA1,1\n"
    assert ci.detect_encoding(io.BytesIO(text.encode("utf-8"))) == "utf-8-sig"
    assert ci.detect_encoding(io.BytesIO(text.encode("utf-8-sig"))) == "utf-8-sig"
    assert ci.detect_encoding(io.BytesIO(text.encode("gb18030"))) == "gb18030"


def test_a_character_split_across_read_chunks_is_still_utf8():
    padding = b"x" * (ci.CHUNK_BYTES - 1)
    stream = io.BytesIO(padding + "编".encode())  # the 3-byte character straddles the chunks
    assert ci.detect_encoding(stream) == "utf-8-sig"
    assert stream.tell() == 0


def test_gbk_text_after_a_long_ascii_start_is_still_found():
    rows = "".join(f"A{n},1\n" for n in range(30000))
    content = ("code,amount\n" + rows + "B,金额\n").encode("gb18030")
    _importer, report, total = validate(content)
    assert total == 30001
    assert report.errors == [
        {"line": 30002, "column": "amount", "code": "not_a_number", "params": {"value": "金额"}}
    ]


def test_line_numbers_count_rows_as_a_spreadsheet_does():
    content = b'code,amount\nA,1\n"B\nstill more B",oops\n\n,,\nC,-5\n'
    _importer, report, total = validate(content)
    assert total == 3  # the blank rows are passed over, but still counted in line numbers
    assert [(e["line"], e["column"], e["code"]) for e in report.errors] == [
        (3, "code", "too_long"),
        (3, "amount", "not_a_number"),
        (6, "amount", "negative"),
    ]


def test_headers_match_whatever_their_case_spacing_or_language():
    _importer, report, _total = validate("\ufeff 编码 ,AMOUNT\nA,1\n".encode("utf-8"))
    assert report.errors == []
    _importer, report, _total = validate(b"Code , Amount\nA,1\n")
    assert report.errors == []


def test_an_empty_file_is_refused():
    _importer, report, _total = validate(b"")
    assert report.file_error
    assert [e["code"] for e in report.errors] == ["empty_file"]


def test_errors_past_the_cap_are_counted_not_listed(monkeypatch):
    monkeypatch.setattr(ci, "MAX_STORED_ERRORS", 3)
    _importer, report, _total = validate(b"code,amount\n" + b"A,x\n" * 5 + b"B,1\n")
    errors = report.as_json()
    assert len(errors) == 4
    assert errors[-1] == {"line": 0, "column": "", "code": "more_errors", "params": {"count": 2}}
    assert ci.error_message(errors[-1]) == "2 more errors are not listed."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024/3/1", date(2024, 3, 1)),
        ("2024.03.01", date(2024, 3, 1)),
        ("2024年3月1日", date(2024, 3, 1)),
        ("2024-03-01 00:00:00", date(2024, 3, 1)),
    ],
)
def test_dates_in_the_forms_people_type(text, expected):
    assert ci.a_date(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "01/03/2024", "soon", "2024-13-01"])
def test_bad_dates_are_refused(text):
    with pytest.raises(CellError) as caught:
        ci.a_date(text)
    assert caught.value.code == "bad_date"


def test_money_accepts_thousands_separators_and_refuses_nonsense():
    parse = ci.money()
    assert parse("8,500.5") == Decimal("8500.50")
    assert parse("1e3") == Decimal("1000.00")
    for text, code in [
        ("abc", "not_a_number"),
        ("NaN", "not_a_number"),
        ("-1", "negative"),
        ("1" * 11, "too_large"),
    ]:
        with pytest.raises(CellError) as caught:
            parse(text)
        assert caught.value.code == code


def test_booleans_emails_and_codes():
    assert ci.boolean("是") is True and ci.boolean("No") is False
    with pytest.raises(CellError):
        ci.boolean("maybe")
    assert ci.email("li.lei@example.cn") == "li.lei@example.cn"
    with pytest.raises(CellError):
        ci.email("li.lei at example")
    assert ci.code_text(10)("1001.0") == "1001"  # what a spreadsheet makes of 1001


def test_apply_skips_the_bad_lines_found_by_the_first_pass():
    content = b"code,amount\nA,1\nB,x\nC,2\n"
    importer, report, _total = validate(content)
    applied = ci.apply(importer, io.BytesIO(content), "toy.csv", report)
    assert applied == 2
    assert [row.values["code"] for row in importer.applied] == ["A", "C"]


def test_a_report_refusing_the_file_lists_line_one():
    report = Report()
    report.refuse_file("amount", "missing_column", column="amount")
    assert report.as_json()[0]["line"] == 1
