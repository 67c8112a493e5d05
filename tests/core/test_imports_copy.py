"""bulk_insert in PostgreSQL's binary COPY format (elsewhere bulk_create): the records read
back exactly as given, and a table with a column of another type still goes in."""

from datetime import date
from decimal import Decimal

from servicecharter.core import imports as ci
from servicecharter.org.models import Customer, Staff


def _customers(department) -> list[Customer]:
    return [
        Customer(
            customer_number=f"C{number:04d}",
            name=name,
            home_department=department,
            segment="retail",
            is_vulnerable=number % 2 == 0,
            vulnerability_note="需要陪同 \\ tab\there" if number == 2 else "",
            email="",
            id_number_cipher="gcm1:abc:xyz",
            id_number_digest="d" * 64,
        )
        for number, name in enumerate(("李娜", 'O\'Brien, "Jr"', "line\nbreak"), start=1)
    ]


def test_binary_copy_stores_every_value_as_given(tree):
    records = _customers(tree["bj"])

    ci.bulk_insert(Customer, records, 1000, binary=True)

    assert all(record.pk for record in records)
    fields = [
        "customer_number", "name", "home_department_id", "segment", "tier", "is_vulnerable",
        "vulnerability_note", "preferred_language", "email", "id_number_cipher",
        "id_number_digest", "phone_cipher",
    ]  # fmt: skip
    stored = {row[0]: row[1:] for row in Customer.objects.values_list("pk", *fields).order_by("pk")}
    assert stored == {
        record.pk: tuple(getattr(record, name) for name in fields) for record in records
    }
    assert all(customer.created_at for customer in Customer.objects.all())


def test_a_table_with_a_decimal_column_goes_in_as_text(tree):
    staff = Staff(
        employee_number="E1",
        name="王芳",
        department=tree["bj_team"],
        position="Teller",
        grade=2,
        base_wage=Decimal("8123.45"),
        hire_date=date(2024, 3, 1),
    )

    ci.bulk_insert(Staff, [staff], 1000, binary=True)

    assert Staff.objects.values_list("base_wage", "hire_date").get(pk=staff.pk) == (
        Decimal("8123.45"),
        date(2024, 3, 1),
    )
