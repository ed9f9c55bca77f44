"""The authorization model is written down once: docs/jobs-api.md's table is the code's
OPERATIONS, and every field the API serves has a row."""

from __future__ import annotations

from pathlib import Path

from renderlib.jobs.authorization import OPERATIONS, REPORT, Role, Scope
from renderlib.jobs.server import schema_sdl

DOC = Path(__file__).resolve().parents[2] / "docs" / "jobs-api.md"


def documented_table() -> dict[str, dict[Role, Scope]]:
    text = DOC.read_text()
    table = text.split("<!-- authorization-table -->")[1].split("<!-- /authorization-table -->")[0]
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines()[2:]]
    return {
        operation.strip(): {Role.STUDIO: Scope(studio.strip()), Role.FARM: Scope(farm.strip())}
        for operation, studio, farm in rows
    }


def test_the_documented_table_is_the_enforced_one():
    assert documented_table() == OPERATIONS


def test_every_root_field_of_the_schema_has_a_rule():
    from infra.jobs_api import root_fields

    fields = {field for _type, field in root_fields(schema_sdl())}
    covered = {operation.split(":")[0] for operation in OPERATIONS}
    assert fields == covered
    assert OPERATIONS[REPORT] == {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG}
