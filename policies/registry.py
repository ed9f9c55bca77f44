"""Every policy of the pack, and the enforcement level each has by default.

The pack's entry point and the offline runner both take the list from here.
A stack can change any level through the pack's config (see ``pack_config``).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from . import compute, iam, logs, monitoring, network, plaintext_secrets, storage, tagging

PACK_NAME = "babulus-render"

POLICIES: list[Policy] = [
    *storage.POLICIES,
    *plaintext_secrets.POLICIES,
    *iam.POLICIES,
    *network.POLICIES,
    *logs.POLICIES,
    *compute.POLICIES,
    *monitoring.POLICIES,
    *tagging.POLICIES,
]

DEFAULT_LEVELS: dict[str, EnforcementLevel] = {
    policy.name: policy.enforcement_level or EnforcementLevel.ADVISORY for policy in POLICIES
}
