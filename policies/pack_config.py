"""The pack's config as `pulumi preview --policy-pack-config FILE` reads it.

The file is a JSON object keyed by policy name (or ``all`` for every policy);
each value is an enforcement level (``"advisory"``, ``"mandatory"``,
``"remediate"``, ``"disabled"``) or an object with an optional
``enforcementLevel`` and the policy's own settings, checked against its
config_schema::

    {"all": "mandatory",
     "required-tags": {"enforcementLevel": "advisory", "requiredKeys": ["project"]},
     "nat-gateway-count": "disabled"}

Used by the offline runner; under the CLI the Pulumi engine does the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from pulumi_policy import EnforcementLevel, Policy

from renderlib.errors import PolicyConfigError

from .registry import DEFAULT_LEVELS, POLICIES

ALL = "all"
LEVELS = {level.value: level for level in EnforcementLevel}


@dataclass(frozen=True)
class PackConfig:
    """Effective enforcement level and settings of every policy."""

    levels: dict[str, EnforcementLevel] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def level(self, policy: Policy) -> EnforcementLevel:
        return self.levels[policy.name]

    def settings_for(self, policy: Policy) -> dict[str, Any]:
        return dict(self.settings.get(policy.name, {}))


def _level(value: Any, where: str) -> EnforcementLevel:
    if value not in LEVELS:
        raise PolicyConfigError(
            f"{where}: enforcement level {value!r} is not one of {', '.join(LEVELS)}"
        )
    return LEVELS[value]


def _check_settings(policy: Policy, settings: dict[str, Any]) -> None:
    schema = policy.config_schema
    properties = schema.properties if schema else {}
    schema_json = {
        "type": "object",
        "properties": properties,
        "required": (schema.required or []) if schema else [],
        "additionalProperties": False,
    }
    try:
        jsonschema.validate(settings, schema_json)
    except jsonschema.ValidationError as error:
        known = ", ".join(properties) or "none"
        raise PolicyConfigError(
            f"config of policy '{policy.name}': {error.message} (settings it takes: {known})"
        ) from error


def parse(raw: Mapping[str, Any]) -> PackConfig:
    """Validates a config object and merges it over the default levels."""
    by_name = {policy.name: policy for policy in POLICIES}
    levels = dict(DEFAULT_LEVELS)
    if ALL in raw:
        levels = dict.fromkeys(levels, _level(raw[ALL], f"'{ALL}'"))
    settings: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name == ALL:
            continue
        if name not in by_name:
            raise PolicyConfigError(
                f"policy '{name}' is not in the pack; its policies are {', '.join(by_name)}"
            )
        if isinstance(value, str):
            levels[name] = _level(value, f"policy '{name}'")
            continue
        if not isinstance(value, Mapping):
            raise PolicyConfigError(
                f"policy '{name}': expected a level or an object, got {value!r}"
            )
        own = {k: v for k, v in value.items() if k != "enforcementLevel"}
        if "enforcementLevel" in value:
            levels[name] = _level(value["enforcementLevel"], f"policy '{name}'")
        _check_settings(by_name[name], own)
        settings[name] = own
    return PackConfig(levels=levels, settings=settings)


def load(path: str | Path) -> PackConfig:
    """Reads and validates a `--policy-pack-config` JSON file."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise PolicyConfigError(f"cannot read policy config {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"policy config {path} is not valid JSON: {error}") from error
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(f"policy config {path} must be a JSON object keyed by policy name")
    return parse(raw)
