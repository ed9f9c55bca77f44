"""Amplify condition inputs (``ModelJobConditionInput`` and friends) as a small tree.

The service turns a GraphQL ``condition`` argument into this tree once; each store then
applies it atomically in its own way: the SQLite store evaluates it with ``matches``
inside a write transaction, the DynamoDB store sends it as a ConditionExpression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Amplify operator -> comparison on a present value.
_COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "beginsWith": lambda a, b: isinstance(a, str) and a.startswith(b),
    "contains": lambda a, b: b in a,
}
KEY_OPERATORS = frozenset({"eq", "lt", "le", "gt", "ge", "between", "beginsWith"})


class ConditionInputError(ValueError):
    """The condition argument is malformed (unknown field, empty between, ...)."""


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Between:
    field: str
    low: Any
    high: Any


@dataclass(frozen=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True)
class OneOf:
    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | Between | Exists | OneOf | All | AnyOf | Not


def from_input(condition: dict | None, fields: frozenset[str]) -> Condition | None:
    """The tree for an Amplify condition input; None for no condition."""
    if not condition:
        return None
    parts: list[Condition] = []
    for name, value in condition.items():
        if value is None:
            continue
        if name == "and":
            parts.append(All(tuple(_required(from_input(c, fields)) for c in value)))
        elif name == "or":
            parts.append(AnyOf(tuple(_required(from_input(c, fields)) for c in value)))
        elif name == "not":
            parts.append(Not(_required(from_input(value, fields))))
        elif name in fields:
            parts.extend(_field_operators(name, value, allowed=None))
        else:
            raise ConditionInputError(f"condition names unknown field {name!r}")
    return _combine(parts)


def key_condition(field: str, condition: dict | None) -> Condition | None:
    """A sort-key condition (ModelStringKeyConditionInput): at most one operator."""
    if not condition:
        return None
    parts = _field_operators(field, condition, allowed=KEY_OPERATORS)
    if len(parts) > 1:
        raise ConditionInputError(f"a key condition on {field} takes one operator")
    return _combine(parts)


def both(*conditions: Condition | None) -> Condition | None:
    return _combine([c for c in conditions if c is not None])


def matches(condition: Condition | None, item: dict | None) -> bool:
    """Whether ``item`` (None: no item) satisfies ``condition``, as DynamoDB judges it."""
    if condition is None:
        return True
    item = item or {}
    match condition:
        case All(parts):
            return all(matches(p, item) for p in parts)
        case AnyOf(parts):
            return any(matches(p, item) for p in parts)
        case Not(part):
            return not matches(part, item)
        case Exists(field, exists):
            return (field in item) == exists
        case OneOf(field, values):
            return field in item and item[field] in values
        case Between(field, low, high):
            return field in item and _compare(lambda: low <= item[field] <= high)
        case Compare(field, "ne", value):
            return field not in item or item[field] != value
        case Compare(field, "notContains", value):
            return field not in item or not _compare(lambda: value in item[field])
        case Compare(field, op, value):
            return field in item and _compare(lambda: _COMPARISONS[op](item[field], value))
    raise TypeError(f"not a condition: {condition!r}")


def _compare(check) -> bool:
    # DynamoDB treats a comparison between different types as false, not an error.
    try:
        return bool(check())
    except TypeError:
        return False


def _field_operators(field: str, ops: dict, allowed: frozenset[str] | None) -> list[Condition]:
    parts: list[Condition] = []
    for op, value in ops.items():
        if value is None:
            continue
        if allowed is not None and op not in allowed:
            raise ConditionInputError(f"operator {op!r} is not allowed on key {field}")
        if op == "between":
            if len(value) != 2:
                raise ConditionInputError(f"between on {field} takes two values, got {value!r}")
            parts.append(Between(field, value[0], value[1]))
        elif op == "attributeExists":
            parts.append(Exists(field, bool(value)))
        elif op in _COMPARISONS or op == "notContains":
            parts.append(Compare(field, op, value))
        else:
            raise ConditionInputError(f"unknown operator {op!r} on {field}")
    return parts


def _required(condition: Condition | None) -> Condition:
    if condition is None:
        raise ConditionInputError("an and/or/not branch of a condition is empty")
    return condition


def _combine(parts: list[Condition]) -> Condition | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else All(tuple(parts))
