"""The store on DynamoDB: the backend of the AppSync Lambda resolver.

Conditions go to DynamoDB as ConditionExpressions, so they are judged atomically by
DynamoDB itself; a failed one comes back with the item as it was
(ReturnValuesOnConditionCheckFailure=ALL_OLD). Table layout: renderlib.jobs.models.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from decimal import Decimal
from functools import reduce
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from renderlib.jobs import conditions
from renderlib.jobs.conditions import Condition
from renderlib.jobs.models import ENTITIES, Entity
from renderlib.jobs.store import BadPageToken, ConditionNotMet, Page, Store

_ATTR_METHODS = {
    "eq": "eq",
    "ne": "ne",
    "lt": "lt",
    "le": "lte",
    "gt": "gt",
    "ge": "gte",
    "beginsWith": "begins_with",
    "contains": "contains",
}
_KEY_METHODS = {
    "eq": "eq",
    "lt": "lt",
    "le": "lte",
    "gt": "gt",
    "ge": "gte",
    "beginsWith": "begins_with",
}


class DynamoStore(Store):
    def __init__(self, table_names: Mapping[str, str], resource: Any = None) -> None:
        if resource is None:
            import boto3

            resource = boto3.resource("dynamodb")
        self._tables = {name: resource.Table(table) for name, table in table_names.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, resource: Any = None) -> DynamoStore:
        """Table names from the entities' table_env variables (JOB_TABLE, ...)."""
        env = os.environ if env is None else env
        missing = [e.table_env for e in ENTITIES.values() if not env.get(e.table_env)]
        if missing:
            raise RuntimeError(f"the jobs API Lambda needs {', '.join(missing)} set")
        return cls({e.name: env[e.table_env] for e in ENTITIES.values()}, resource)

    def create(self, entity: Entity, item: dict, condition: Condition | None = None) -> None:
        expression = Attr("id").not_exists()
        if condition is not None:
            expression = expression & _expression(condition)
        table = self._tables[entity.name]
        try:
            table.put_item(
                Item=_to_dynamo(item),
                ConditionExpression=expression,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            raise self._condition_not_met(exc, entity, item["id"]) from None

    def get(self, entity: Entity, item_id: str) -> dict | None:
        response = self._tables[entity.name].get_item(Key={"id": item_id}, ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else _from_dynamo(item)

    def update(
        self,
        entity: Entity,
        item_id: str,
        values: dict,
        remove: frozenset[str],
        condition: Condition | None,
    ) -> dict:
        names, assigned, clauses = {}, {}, []
        for i, (name, value) in enumerate(sorted(values.items())):
            names[f"#u{i}"] = name
            assigned[f":u{i}"] = _to_dynamo(value)
            clauses.append(f"#u{i} = :u{i}")
        expression = f"SET {', '.join(clauses)}"
        if remove:
            removed = []
            for i, name in enumerate(sorted(remove)):
                names[f"#r{i}"] = name
                removed.append(f"#r{i}")
            expression += f" REMOVE {', '.join(removed)}"
        arguments: dict[str, Any] = {
            "Key": {"id": item_id},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": assigned,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            # Never create an item by updating a missing id.
            "ConditionExpression": Attr("id").exists() & _expression(condition)
            if condition is not None
            else Attr("id").exists(),
        }
        try:
            response = self._tables[entity.name].update_item(**arguments)
        except ClientError as exc:
            raise self._condition_not_met(exc, entity, item_id) from None
        return _from_dynamo(response["Attributes"])

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
        key_expression = Key(index.hash_key).eq(key)
        if sort_condition is not None:
            key_expression = key_expression & _key_expression(sort_condition)
        arguments: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": key_expression,
            "ScanIndexForward": ascending,
            "Limit": limit,
        }
        if next_token:
            arguments["ExclusiveStartKey"] = _decode_token(next_token)
        if filter is not None:
            arguments["FilterExpression"] = _expression(filter)
        response = self._tables[entity.name].query(**arguments)
        last_key = response.get("LastEvaluatedKey")
        token = None if last_key is None else _encode_token(_from_dynamo(last_key))
        return Page([_from_dynamo(item) for item in response["Items"]], token)

    def _condition_not_met(self, exc: ClientError, entity: Entity, item_id: str) -> Exception:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            return exc
        old = exc.response.get("Item")
        if old is not None:
            deserializer = TypeDeserializer()
            current = _from_dynamo({k: deserializer.deserialize(v) for k, v in old.items()})
        else:
            # Older DynamoDB emulators leave the old item out; read it (only to explain).
            current = self.get(entity, item_id)
        return ConditionNotMet(current)


def _expression(condition: Condition) -> ConditionBase:
    match condition:
        case conditions.All(parts):
            return reduce(lambda a, b: a & b, (_expression(p) for p in parts))
        case conditions.AnyOf(parts):
            return reduce(lambda a, b: a | b, (_expression(p) for p in parts))
        case conditions.Not(part):
            return ~_expression(part)
        case conditions.Exists(field, exists):
            return Attr(field).exists() if exists else Attr(field).not_exists()
        case conditions.OneOf(field, values):
            return Attr(field).is_in([_to_dynamo(v) for v in values])
        case conditions.Between(field, low, high):
            return Attr(field).between(_to_dynamo(low), _to_dynamo(high))
        case conditions.Compare(field, "notContains", value):
            return ~Attr(field).contains(_to_dynamo(value))
        case conditions.Compare(field, op, value):
            return getattr(Attr(field), _ATTR_METHODS[op])(_to_dynamo(value))
    raise TypeError(f"not a condition: {condition!r}")


def _key_expression(condition: Condition) -> ConditionBase:
    match condition:
        case conditions.Between(field, low, high):
            return Key(field).between(low, high)
        case conditions.Compare(field, op, value) if op in _KEY_METHODS:
            return getattr(Key(field), _KEY_METHODS[op])(value)
    raise TypeError(f"not a key condition: {condition!r}")


def _to_dynamo(value: Any) -> Any:
    """boto3 refuses floats: numbers become Decimals, recursively."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def _encode_token(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_token(token: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        key = None
    if not isinstance(key, dict):
        raise BadPageToken(f"nextToken {token!r} is not one this API handed out")
    return key
