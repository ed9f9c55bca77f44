"""The store on SQLite: the local server's durable backend.

Each record is a JSON document in a table named for its entity; indexes are
expression indexes on the document's key fields. Conditional writes run inside
``BEGIN IMMEDIATE`` (one writer at a time), so judging the condition and writing
are one atomic step even with many server threads.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from renderlib.jobs import conditions
from renderlib.jobs.conditions import Condition
from renderlib.jobs.models import ENTITIES, Entity, Index
from renderlib.jobs.store import BadPageToken, ConditionNotMet, Page, Store

_SQL_OPERATORS = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            for entity in ENTITIES.values():
                db.execute(
                    f'CREATE TABLE IF NOT EXISTS "{entity.name}" '
                    "(id TEXT PRIMARY KEY, item TEXT NOT NULL)"
                )
                for index in entity.indexes.values():
                    db.execute(
                        f'CREATE INDEX IF NOT EXISTS "{entity.name}_{index.name}" '
                        f'ON "{entity.name}" ({_path(index.hash_key)}, '
                        f"{_path(_sort_key(index))}, id)"
                    )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def create(self, entity: Entity, item: dict, condition: Condition | None = None) -> None:
        with self._write() as db:
            current = _select(db, entity, item["id"])
            if current is not None or not conditions.matches(condition, None):
                raise ConditionNotMet(current)
            db.execute(
                f'INSERT INTO "{entity.name}" (id, item) VALUES (?, ?)',
                (item["id"], json.dumps(item)),
            )

    def get(self, entity: Entity, item_id: str) -> dict | None:
        with self._connection() as db:
            return _select(db, entity, item_id)

    def update(
        self,
        entity: Entity,
        item_id: str,
        values: dict,
        remove: frozenset[str],
        condition: Condition | None,
    ) -> dict:
        with self._write() as db:
            current = _select(db, entity, item_id)
            if current is None or not conditions.matches(condition, current):
                raise ConditionNotMet(current)
            new = {k: v for k, v in {**current, **values}.items() if k not in remove}
            db.execute(
                f'UPDATE "{entity.name}" SET item = ? WHERE id = ?', (json.dumps(new), item_id)
            )
            return new

    def query(
        self,
        entity: Entity,
        index_name: str,
        key: str,
        *,
        sort_condition: Condition | None = None,
        ascending: bool = True,
        limit: int = 100,
        next_token: str | None = None,
        filter: Condition | None = None,
    ) -> Page:
        index = entity.indexes[index_name]
        sort = _path(_sort_key(index))
        where = [f"{_path(index.hash_key)} = ?"]
        params: list = [key]
        if sort_condition is not None:
            clause, values = _sort_clause(sort, sort_condition)
            where.append(clause)
            params.extend(values)
        if next_token:
            where.append(f"({sort}, id) {'>' if ascending else '<'} (?, ?)")
            params.extend(_decode_token(next_token))
        direction = "ASC" if ascending else "DESC"
        sql = (
            f'SELECT item FROM "{entity.name}" WHERE {" AND ".join(where)} '
            f"ORDER BY {sort} {direction}, id {direction} LIMIT ?"
        )
        with self._connection() as db:
            rows = db.execute(sql, [*params, limit + 1]).fetchall()
        items = [json.loads(row[0]) for row in rows[:limit]]
        token = None
        if len(rows) > limit:
            last = items[-1]
            token = _encode_token([last.get(_sort_key(index)), last["id"]])
        return Page([item for item in items if conditions.matches(filter, item)], token)


def _select(db: sqlite3.Connection, entity: Entity, item_id: str) -> dict | None:
    row = db.execute(f'SELECT item FROM "{entity.name}" WHERE id = ?', (item_id,)).fetchone()
    return json.loads(row[0]) if row else None


def _sort_key(index: Index) -> str:
    # DynamoDB leaves an index without a range key unordered; here it is creation order.
    return index.range_key or "createdAt"


def _path(field: str) -> str:
    return f"json_extract(item, '$.{field}')"


def _sort_clause(column: str, condition: Condition) -> tuple[str, list]:
    match condition:
        case conditions.Between(_, low, high):
            return f"{column} BETWEEN ? AND ?", [low, high]
        case conditions.Compare(_, "beginsWith", prefix):
            return f"substr({column}, 1, ?) = ?", [len(prefix), prefix]
        case conditions.Compare(_, op, value) if op in _SQL_OPERATORS:
            return f"{column} {_SQL_OPERATORS[op]} ?", [value]
    raise TypeError(f"not a key condition: {condition!r}")


def _encode_token(position: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode_token(token: str) -> list:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise BadPageToken(f"nextToken {token!r} is not one this API handed out") from None
    if not (isinstance(position, list) and len(position) == 2):
        raise BadPageToken(f"nextToken {token!r} is not one this API handed out")
    return position
