"""Run the policy pack offline: ``python -m policies.check [--config FILE] STACK...``.

For each stack the Pulumi program runs under mocks with the stack's committed
config (``infra.offline.run_stack``); every recorded resource goes to every
resource policy and all of them to every stack policy, as the Pulumi analyzer
would do them during ``pulumi preview --policy-pack policies``. Each violation
is printed; the exit status is 1 when any is mandatory, 2 when a stack or the
config cannot be run at all, else 0.

What the pack sees offline, and why:
- resource policies get each resource's inputs as the mocks received them;
- stack policies get outputs, as the engine gives them: the mocks' answer for
  each resource (recorded by the offline run) plus its
  ``id``; an awsx component gets its inputs and those outputs, since its aws
  children do not exist offline;
- the stack's outputs appear as a ``pulumi:pulumi:Stack`` resource (secret
  outputs wrapped, as the engine sends them);
- aws resources get the default aws provider, with the stack's
  ``aws:defaultTags`` config, as the engine would configure it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyProviderResource
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from infra.offline import StackRun, run_stack
from renderlib.errors import PolicyConfigError

from . import pack_config
from .evaluate import Resource, Violation, evaluate
from .pack_config import PackConfig

STACK_TYPE = "pulumi:pulumi:Stack"


def _provider(run: StackRun, project: str) -> PolicyProviderResource:
    props = {
        key.split(":", 1)[1]: value for key, value in run.config.items() if key.startswith("aws:")
    }
    urn = f"urn:pulumi:{run.stack}::{project}::pulumi:providers:aws::default"
    return PolicyProviderResource("pulumi:providers:aws", props, urn, "default")


def _stack_resource(run: StackRun, project: str) -> Resource:
    outputs = {
        key: {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}
        if key in run.secret_outputs
        else value
        for key, value in run.outputs.items()
    }
    urn = f"urn:pulumi:{run.stack}::{project}::{STACK_TYPE}::{project}-{run.stack}"
    return Resource(STACK_TYPE, f"{project}-{run.stack}", urn, outputs, outputs=outputs)


def stack_resources(run: StackRun) -> list[Resource]:
    """The resources of one offline run, shaped as the analyzer receives them."""
    project = _project(run)
    aws_provider = _provider(run, project)
    resources = [_stack_resource(run, project)]
    for recorded in run.resources:
        outputs: dict[str, Any] = (
            {**recorded.outputs, "id": recorded.id}
            if recorded.custom
            else {**recorded.inputs, **recorded.outputs}
        )
        resources.append(
            Resource(
                type=recorded.type,
                name=recorded.name,
                urn=recorded.urn,
                props=recorded.inputs,
                outputs=outputs,
                parent=recorded.parent,
                provider=aws_provider if recorded.type.startswith("aws:") else None,
            )
        )
    return resources


def _project(run: StackRun) -> str:
    """The project name, from any recorded URN (urn:pulumi:STACK::PROJECT::...)."""
    for recorded in run.resources:
        return recorded.urn.split("::")[1]
    return "project"


def check_stack(
    stack: str, config: PackConfig | None = None, **run_options: Any
) -> list[Violation]:
    """Every violation the pack reports for ``stack`` run offline."""
    return evaluate(stack_resources(run_stack(stack, **run_options)), config)


def _format(violation: Violation) -> str:
    """Level, policy, resource (its type and name, from the URN) and message."""
    if violation.resource:
        _, _, qualified_type, name = violation.resource.split("::", 3)
        where = f"{qualified_type.rsplit('$', 1)[-1]} {name}"
    else:
        where = "(stack)"
    return f"  [{violation.level.value}] {violation.policy}: {where}\n      {violation.message}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.check",
        description="Run the CrossGuard policy pack against stacks run offline under mocks.",
    )
    parser.add_argument(
        "stacks",
        nargs="+",
        metavar="STACK",
        help="stack names with a committed Pulumi.<stack>.yaml",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="policy pack config JSON, as for --policy-pack-config"
    )
    args = parser.parse_args(argv)
    try:
        config = pack_config.load(args.config) if args.config else PackConfig()
    except PolicyConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    status = 0
    for stack in args.stacks:
        try:
            violations = check_stack(stack, config)
        except Exception as error:  # noqa: BLE001 - any program failure: report it, go on
            print(f"stack {stack}: cannot run the program offline: {error}", file=sys.stderr)
            status = 2
            continue
        mandatory = [v for v in violations if v.level == EnforcementLevel.MANDATORY]
        print(f"stack {stack}: {len(violations)} violation(s), {len(mandatory)} mandatory")
        for violation in violations:
            print(_format(violation))
        if mandatory and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
