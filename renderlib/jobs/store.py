"""Where the API keeps its records: the interface both backends implement.

Every write is atomic with its condition: ``create`` and ``update`` either apply in
full with the condition holding, or raise ConditionNotMet carrying the record as it
was when the condition was judged (None when there was no record).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from renderlib.jobs.conditions import Condition
from renderlib.jobs.models import Entity


class ConditionNotMet(Exception):
    def __init__(self, current: dict | None) -> None:
        super().__init__("the conditional request failed")
        self.current = current


class BadPageToken(ValueError):
    """A nextToken this store did not hand out."""


@dataclass
class Page:
    items: list[dict]
    next_token: str | None


class Store(ABC):
    @abstractmethod
    def create(self, entity: Entity, item: dict, condition: Condition | None = None) -> None:
        """Store a new record; ConditionNotMet if its id exists or ``condition`` fails."""

    @abstractmethod
    def get(self, entity: Entity, item_id: str) -> dict | None: ...

    @abstractmethod
    def update(
        self,
        entity: Entity,
        item_id: str,
        values: dict,
        remove: frozenset[str],
        condition: Condition | None,
    ) -> dict:
        """Set ``values`` and drop ``remove`` on an existing record; the new record."""

    @abstractmethod
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
        """Records whose index hash key equals ``key``, in sort-key order, one page.

        ``filter`` is applied as DynamoDB applies a FilterExpression: after the page of
        ``limit`` records is read, so a page may hold fewer (even none) and still have
        a next token."""
