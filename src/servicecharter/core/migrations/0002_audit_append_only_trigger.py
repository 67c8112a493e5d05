"""On PostgreSQL the audit table refuses UPDATE, DELETE and TRUNCATE (the trail is append-only).

TRUNCATE is let through only for a superuser session that sets ``charter.allow_audit_truncate``
to ``on`` (the test database does, so Django can empty tables between transactional tests); a
superuser could drop the trigger anyway. Other databases have no such trigger: there the hash
chain alone shows tampering (``charter audit verify``)."""

from django.db import migrations

TABLE = "core_auditentry"

INSTALL = f"""
CREATE OR REPLACE FUNCTION charter_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('is_superuser') = 'on'
       AND coalesce(current_setting('charter.allow_audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER charter_audit_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION charter_audit_refuse_change();
CREATE TRIGGER charter_audit_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION charter_audit_refuse_change();
"""

REMOVE = f"""
DROP TRIGGER IF EXISTS charter_audit_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS charter_audit_append_only ON {TABLE};
DROP FUNCTION IF EXISTS charter_audit_refuse_change();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
