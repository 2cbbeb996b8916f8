"""What a migration step sent to PostgreSQL that would block the reads or writes of a table in use.

A table is in use when it exists on both sides of the step (:attr:`Step.kept_tables`): the code already running
reads and writes it while the release migrates. The rules read the SQL that Alembic actually emitted, so they see
``op.create_index``, ``batch_op`` operations and ``op.execute`` alike. README, Deploy, says how each is done instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.migrations.steps import Step

__all__ = ("Finding", "findings")

_NAME = r'(?:"[^"]+"|[\w$]+)'
_TABLE = rf"(?P<table>(?:{_NAME}\.)?{_NAME})"
_INDEX = re.compile(
    rf"CREATE (?:UNIQUE )?INDEX (?P<concurrently>CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_NAME} )?ON (?:ONLY )?{_TABLE}",
    re.I,
)
_DROP_INDEX = re.compile(
    rf"DROP INDEX (?P<concurrently>CONCURRENTLY )?(?:IF EXISTS )?(?P<index>(?:{_NAME}\.)?{_NAME})", re.I
)
_ALTER_TABLE = re.compile(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_TABLE} (?P<action>.*)", re.I | re.S)
_ADD_COLUMN = re.compile(rf"ADD COLUMN (?:IF NOT EXISTS )?(?P<column>{_NAME}) (?P<definition>.*)", re.I | re.S)
_ADD_CONSTRAINT = re.compile(r"ADD (?:CONSTRAINT \S+ )?(?P<kind>FOREIGN KEY|CHECK|UNIQUE|PRIMARY KEY|EXCLUDE)", re.I)
_COLUMN_TYPE = re.compile(
    rf"ALTER (?:COLUMN )?(?P<column>{_NAME}) (?:SET DATA )?TYPE (?P<type>[\w ]+?(?:\(\d+\))?)(?= USING\b|$)", re.I
)
_SET_NOT_NULL = re.compile(rf"ALTER (?:COLUMN )?(?P<column>{_NAME}) SET NOT NULL", re.I)
_WHOLE_TABLE_WRITE = re.compile(rf"(?:UPDATE|DELETE FROM) (?:ONLY )?{_TABLE}(?!.*\bWHERE\b)", re.I | re.S)
_TABLE_LOCK = re.compile(
    rf"(?:LOCK (?:TABLE )?(?:ONLY )?|VACUUM \(?FULL\)? |CLUSTER |REINDEX TABLE (?!CONCURRENTLY)){_TABLE}", re.I
)
# Functions whose default differs row by row: PostgreSQL then writes every row (a rewrite) to add the column.
_VOLATILE = re.compile(r"\b(?:random|gen_random_uuid|uuid_generate_\w+|clock_timestamp|timeofday|nextval)\s*\(", re.I)
_ROW_BY_ROW = re.compile(r"\b(?:SMALLSERIAL|BIGSERIAL|SERIAL|GENERATED\b.*\b(?:IDENTITY|STORED))\b", re.I)
_VARCHAR = re.compile(r"(?:VARCHAR|CHARACTER VARYING)(?:\((?P<length>\d+)\))?$", re.I)

_CONCURRENT_INDEX = (
    "build it with op.create_index(..., postgresql_concurrently=True) inside `with op.get_context()."
    "autocommit_block():`, after op.drop_index(..., postgresql_concurrently=True, if_exists=True) so that a retried "
    "release replaces the invalid index a failed build leaves"
)


@dataclass(frozen=True)
class Finding:
    step: str
    rule: str
    statement: str
    advice: str

    def __str__(self) -> str:
        return f"{self.step}: {self.rule}\n    {self.statement}\n    {self.advice}"


def _name(identifier: str) -> str:
    return identifier.rsplit(".", 1)[-1].strip('"')


def _widens(old: str, new: str) -> bool:
    """Whether changing a column from ``old`` to ``new`` keeps every stored value's bytes: no rewrite, no scan."""
    old_varchar, new_varchar = _VARCHAR.match(old.strip()), _VARCHAR.match(new.strip())
    if new.strip().upper() == "TEXT":
        return old_varchar is not None or old.strip().upper() == "TEXT"
    if old_varchar is None or new_varchar is None:
        return False
    old_length, new_length = old_varchar["length"], new_varchar["length"]
    return new_length is None or (old_length is not None and int(new_length) >= int(old_length))


_Refusal = tuple[str, str]  # the rule broken, and what to write instead


def _constraint_added(step: Step, table: str, action: str) -> _Refusal | None:
    if not (constraint := _ADD_CONSTRAINT.match(action)):
        return None
    kind = constraint["kind"].upper()
    if kind in {"FOREIGN KEY", "CHECK"} and not re.search(r"\bNOT VALID\s*$", action, re.I):
        return (
            "constraint checked under lock",
            f"checking every row holds a lock on {table} that blocks its writes: add it with "
            "postgresql_not_valid=True, then run ALTER TABLE ... VALIDATE CONSTRAINT in a transaction of its own",
        )
    if kind in {"UNIQUE", "PRIMARY KEY", "EXCLUDE"} and "USING INDEX" not in action.upper():
        return (
            "constraint builds its index under lock",
            f"{kind} builds an index while {table}'s writes wait: create a unique index concurrently first "
            f"({_CONCURRENT_INDEX}), then ADD CONSTRAINT ... USING INDEX",
        )
    return None


def _column_added(step: Step, table: str, action: str) -> _Refusal | None:
    if not (column := _ADD_COLUMN.match(action)):
        return None
    definition = column["definition"]
    if _VOLATILE.search(definition) or _ROW_BY_ROW.search(definition):
        return (
            "new column filled row by row",
            f"a default that differs per row rewrites all of {table} under an ACCESS EXCLUSIVE lock: add the column "
            "nullable (or with a constant default), fill it in batches, then add the default",
        )
    if re.search(r"\bNOT NULL\b", definition, re.I) and not re.search(r"\bDEFAULT\b", definition, re.I):
        return (
            "NOT NULL column without a default",
            f"fails on a {table} that has rows, and old code inserting rows would fail on it: give it a "
            "server_default, or add it nullable and make it NOT NULL in a later release",
        )
    return None


def _column_retyped(step: Step, table: str, action: str) -> _Refusal | None:
    if not (retyped := _COLUMN_TYPE.match(action)):
        return None
    old = step.before.column_types.get((table, _name(retyped["column"])), "")
    if _widens(old, retyped["type"]):
        return None
    return (
        "column type changed in place",
        f"{old or 'the old type'} to {retyped['type'].strip()} rewrites {table} and its indexes under an ACCESS "
        "EXCLUSIVE lock (only widening a varchar, or to text, does not): add a new column, fill it in batches, "
        "switch the code, drop the old one later",
    )


def _not_null_set(step: Step, table: str, action: str) -> _Refusal | None:
    if not (not_null := _SET_NOT_NULL.match(action)) or (table, _name(not_null["column"])) in (
        step.before.not_null_checked
    ):
        return None
    return (
        "SET NOT NULL scans under lock",
        f"checking every row of {table} holds an ACCESS EXCLUSIVE lock: in an earlier revision add "
        "CHECK (column IS NOT NULL) with postgresql_not_valid=True and validate it; SET NOT NULL then skips the "
        "scan (and this check accepts it)",
    )


def _table_altered(step: Step, statement: str) -> _Refusal | None:
    if not (altered := _ALTER_TABLE.match(statement)) or (table := _name(altered["table"])) not in step.kept_tables:
        return None
    rules = (_constraint_added, _column_added, _column_retyped, _not_null_set)
    return next((refusal for rule in rules if (refusal := rule(step, table, altered["action"]))), None)


def _index_built(step: Step, statement: str) -> _Refusal | None:
    if not (index := _INDEX.match(statement)) or index["concurrently"] or _name(index["table"]) not in step.kept_tables:
        return None
    table = _name(index["table"])
    return "index built without CONCURRENTLY", f"{table}'s writes wait for the build: {_CONCURRENT_INDEX}"


def _index_dropped(step: Step, statement: str) -> _Refusal | None:
    if not (dropped := _DROP_INDEX.match(statement)) or dropped["concurrently"]:
        return None
    if (table := step.before.index_tables.get(_name(dropped["index"]))) not in step.kept_tables:
        return None
    return (
        "index dropped without CONCURRENTLY",
        f"DROP INDEX holds an ACCESS EXCLUSIVE lock on {table} until the revision commits: drop it with "
        "postgresql_concurrently=True inside `with op.get_context().autocommit_block():`",
    )


def _every_row_written(step: Step, statement: str) -> _Refusal | None:
    if not (written := _WHOLE_TABLE_WRITE.match(statement)) or _name(written["table"]) not in step.kept_tables:
        return None
    return (
        "every row written in one transaction",
        "each row stays locked for writes until the revision commits: write in batches (by key range), each "
        "committed on its own inside `with op.get_context().autocommit_block():`",
    )


def _table_locked(step: Step, statement: str) -> _Refusal | None:
    if not (locked := _TABLE_LOCK.match(statement)) or _name(locked["table"]) not in step.kept_tables:
        return None
    return "table locked", "LOCK TABLE, VACUUM FULL, CLUSTER and a plain REINDEX hold a lock that blocks the table"


_RULES = (_index_built, _index_dropped, _table_altered, _every_row_written, _table_locked)


def findings(step: Step) -> list[Finding]:
    """What in ``step``'s PostgreSQL statements blocks a table in use for longer than a moment."""
    found = []
    for sent in step.statements:
        for part in sent.split(";"):
            statement = " ".join(part.split())
            found += [
                Finding(str(step), rule, statement, advice)
                for check in _RULES
                if (refusal := check(step, statement)) is not None
                for rule, advice in [refusal]
            ]
    return found
