"""The policy pack's entry point, run by the Pulumi CLI (`--policy-pack policies`).

Constructing PolicyPack starts the analyzer server and blocks, so this file
does nothing else; the policies live in importable modules (see registry.py).
The CLI runs this file with the pack folder, not the repository, on sys.path:
put the repository first so the modules import as the `policies` package.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.registry import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,
    description="Security and operations rules of the babulus-render farm.",
)
