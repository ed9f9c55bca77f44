"""No secret in plain text: container and Lambda environments, stack outputs.

(Not named ``secrets.py``: the CLI runs the pack with this folder first on
``sys.path``, where that name would shadow the standard library's module.)

A name looks secret when one of its words is a secret word (``DB_PASSWORD``,
``apiToken``, ``SIGNING_KEY``) unless its last word says it is only a
reference to a secret (``WORKER_SECRET_ARN``, ``passwordSecretName``). A value
looks secret when it has the shape of a well-known credential. Messages never
repeat the value.

The analyzer unwraps Pulumi secrets before policies see them, so a secret
output cannot be told from a plain one: credentials must not be exported at
all (export the Secrets Manager ARN instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .props import as_list, known, lookup, parse_json

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
STACK = "pulumi:pulumi:Stack"

SECRET_WORDS = {
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "credentials",
}
SECRET_KEY_QUALIFIERS = {"api", "private", "access", "secret", "signing", "encryption", "client"}
REFERENCE_WORDS = {
    "arn",
    "arns",
    "id",
    "ids",
    "name",
    "names",
    "url",
    "uri",
    "path",
    "file",
    "ref",
    "region",
    "endpoint",
    "prefix",
    "header",
    "ttl",
    "type",
    "mode",
    "version",
}

VALUE_PATTERNS = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AppSync API key": re.compile(r"\bda2-[a-z0-9]{26}\b"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a JSON web token": re.compile(r"\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
}

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _words(name: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(name)]


def name_looks_secret(name: str) -> bool:
    words = _words(name)
    if not words or words[-1] in REFERENCE_WORDS:
        return False
    if SECRET_WORDS & set(words):
        return True
    joined = {a + b for a, b in zip(words, words[1:], strict=False)}
    if SECRET_WORDS & joined:
        return True
    return any(
        word == "key" and i > 0 and words[i - 1] in SECRET_KEY_QUALIFIERS
        for i, word in enumerate(words)
    )


def value_looks_secret(value: Any) -> str | None:
    """What kind of credential ``value`` looks like, or None."""
    if not isinstance(value, str):
        return None
    for kind, pattern in VALUE_PATTERNS.items():
        if pattern.search(value):
            return kind
    return None


def _problem(name: str, value: Any) -> str | None:
    if name_looks_secret(name):
        return "name looks like a password, token or secret key"
    kind = value_looks_secret(value)
    if kind:
        return f"value looks like {kind}"
    return None


def _check_task_definition(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in as_list(parse_json(lookup(args.props, "containerDefinitions"))):
        container_name = lookup(container, "name", default="?")
        for variable in as_list(lookup(container, "environment")):
            name = lookup(variable, "name", default="")
            problem = _problem(name, lookup(variable, "value"))
            if problem:
                report(
                    f"Container '{container_name}' sets environment variable '{name}' in plain "
                    f"text; its {problem}. Store it in Secrets Manager and list it under the "
                    "container's 'secrets' ({name, valueFrom: <secret ARN>}) instead.",
                )


def _check_lambda(args: ResourceValidationArgs, report: ReportViolation) -> None:
    variables = lookup(args.props, "environment", "variables", default={})
    for name in variables:
        problem = _problem(name, known(variables, name))  # an unknown value: judge the name
        if problem:
            report(
                f"Lambda '{args.name}' sets environment variable '{name}' in plain text; its "
                f"{problem}. Store it in Secrets Manager, pass the secret's ARN "
                "(e.g. a *_SECRET_ARN variable) and read it at run time.",
            )


def _check_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == TASK_DEFINITION:
        _check_task_definition(args, report)
    elif args.resource_type == LAMBDA_FUNCTION:
        _check_lambda(args, report)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(dotted path, last key, value) of every leaf under ``value``.

    Outputs unknown during preview are leaves with the value ``UNKNOWN``: their
    names can still be judged.
    """
    if isinstance(value, Mapping):
        for key in value:
            yield from _leaves(known(value, key), f"{path}.{key}" if path else key)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i in range(len(value)):
            yield from _leaves(known(value, i), f"{path}[{i}]")
    else:
        yield path, path.rsplit(".", 1)[-1].split("[", 1)[0], value


def _check_outputs(args: StackValidationArgs, report: ReportViolation) -> None:
    for stack in (r for r in args.resources if r.resource_type == STACK):
        for path, name, value in _leaves(stack.props, ""):
            problem = _problem(name, value)
            if problem:
                report(
                    f"Stack output '{path}': its {problem}. Do not "
                    "export credentials (Pulumi secret outputs are still readable with "
                    "--show-secrets); export the Secrets Manager secret's ARN instead.",
                    stack.urn,
                )


no_plaintext_secrets = ResourceValidationPolicy(
    name="no-plaintext-secrets",
    description="Container and Lambda environment variables carry no passwords, tokens or "
    "secret keys; secrets come from Secrets Manager.",
    validate=_check_environment,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Move the value to Secrets Manager; reference it with the container's "
    "'secrets' (valueFrom) or pass the secret's ARN to the Lambda.",
)

no_secret_stack_outputs = StackValidationPolicy(
    name="no-secret-stack-outputs",
    description="Stack outputs export no passwords, tokens or secret keys.",
    validate=_check_outputs,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Export the Secrets Manager secret's ARN, not the secret.",
)

POLICIES = [no_plaintext_secrets, no_secret_stack_outputs]
