"""Case personas and factories: a Beijing complaint handled by the Beijing agent, and a
case's values for the bulk writer."""

import pytest
from django.db import connection, transaction

from servicecharter.accounts.choices import Role
from servicecharter.cases.choices import CaseKind
from servicecharter.cases.services import case_create
from servicecharter.org.choices import Channel
from tests.conftest import make_user


def bulk_case(department_id: int, received_at, **fields) -> dict:
    """The fewest values ``cases.bulk.CaseWriter.write_cases`` needs for an open complaint."""
    return {
        "kind": "complaint",
        "channel": "phone",
        "state": "received",
        "subject": "Written in bulk",
        "department_id": department_id,
        "received_at": received_at,
        "profile_key": "cn_banking_insurance",
        "severity_reasons": [],
        **fields,
    }


def explain(sql: str, params: list) -> str:
    """The plan of ``sql``. On PostgreSQL sequential scans are priced out for the statement, so
    a tiny test table shows whether the partial index *can* serve the query at all."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


@pytest.fixture
def complaints_officer(tree):
    return make_user("complaints", Role.COMPLAINTS_OFFICER, tree["head"])


@pytest.fixture
def executive(tree):
    return make_user("exec", Role.EXECUTIVE, tree["head"])


@pytest.fixture
def new_case(tree, bj_agent):
    """Returns a function making a complaint in the Beijing team's queue."""

    def make(**overrides):
        fields = {
            "actor": bj_agent,
            "kind": CaseKind.COMPLAINT,
            "channel": Channel.PHONE,
            "subject": "Card fee charged twice",
            "description": "The annual fee was charged twice this month.",
            "contact_name": "Li Lei",
            "department": tree["bj_team"],
            "handler": bj_agent,
        }
        fields.update(overrides)
        return case_create(**fields).case

    return make
