"""Reading resource properties the way the analyzer hands them to policies.

The analyzer gives policies camelCase keys, numbers as floats, secrets already
unwrapped, and wraps everything in a proxy that raises ``UnknownValueError``
when a policy touches a value that is unknown during preview. Resource
policies let that error through (the analyzer turns it into an advisory "can't
run during preview" note); stack policies that relate resources to each other
use ``known`` so one unknown value does not stop the whole check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Returned by ``known`` for a value that cannot be known during preview."""


def lookup(props: Any, *path: str | int, default: Any = None) -> Any:
    """Walks ``path`` into ``props``; ``default`` when any step is missing.

    Raises ``UnknownValueError`` on an unknown value, like the analyzer's proxy.
    """
    value: Any = props
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or step >= len(value):
                return default
        elif not isinstance(value, Mapping) or step not in value:
            return default
        value = value[step]
        if value is None:
            return default
    return value


def known(props: Any, *path: str | int, default: Any = None) -> Any:
    """Like ``lookup`` but returns ``UNKNOWN`` instead of raising."""
    try:
        return lookup(props, *path, default=default)
    except UnknownValueError:
        return UNKNOWN


def as_list(value: Any) -> list[Any]:
    """IAM-style "one or many": None -> [], a single value -> [value]."""
    if value is None:
        return []
    if isinstance(value, str) or isinstance(value, Mapping):
        return [value]
    return list(value)


def parse_json(value: Any) -> Any:
    """Parses a JSON document input (policy documents, container definitions).

    pulumi-aws takes them as strings, but a program may pass the structure;
    both are accepted. Raises ``ValueError`` when the string is not JSON.
    """
    if isinstance(value, str):
        return json.loads(value)
    return value
