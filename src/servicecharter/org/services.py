"""Every write to the institution structure. One transaction per use case, audited."""

from django.db import transaction

from servicecharter.core.audit import audit_record
from servicecharter.org.models import Department


def _path_for(pk: int, parent: Department | None) -> str:
    return f"{parent.path if parent else ''}{pk:06d}."


@transaction.atomic
def department_create(
    *,
    code: str,
    name_en: str,
    name_zh: str,
    kind: str,
    parent: Department | None = None,
    calendar_code: str = "CN",
) -> Department:
    department = Department.objects.create(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        kind=kind,
        parent=parent,
        calendar_code=calendar_code,
        path="",
        depth=(parent.depth + 1) if parent else 0,
    )
    department.path = _path_for(department.pk, parent)
    department.save(update_fields=["path"])
    audit_record(
        action="department.create",
        obj=department,
        changes={"code": [None, code], "parent": [None, parent.code if parent else None]},
    )
    return department
