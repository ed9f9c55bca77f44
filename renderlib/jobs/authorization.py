"""Who is calling the jobs API, and what each caller may do: the one authorization model.

The AppSync Lambda resolver and the local server both call this module; the service
(renderlib/jobs/service.py) asks it before every read and write. docs/jobs-api.md
("Authorization") has ``OPERATIONS`` as a table, and a test holds the two equal.

Callers:

- a studio, bound to one org: a Cognito user (its org from the ``custom:orgId`` claim,
  or else from its one Cognito group, as Amplify apps carry it), an API key where the
  stack binds one to an org, or a local org key (renderlib/jobs/api_keys.py);
- the farm (dispatcher and workers): the IAM roles the stack names, or the local farm
  key.

A studio creates, reads, lists and cancels its own org's jobs and runs, and retries its
own failed jobs; only the farm claims, runs and reports jobs and records RenderRuns.
Nobody changes a finished job except by the manual retry (failed -> queued); the fields
the farm owns are refused to studios, and the fields a job is created with never change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from renderlib.jobs.api_errors import UnauthorizedException
from renderlib.jobs.fields import is_token
from renderlib.jobs.status import FINISHED_STATUSES, JobStatus, predecessors


class Role(StrEnum):
    STUDIO = "studio"
    FARM = "farm"


class Scope(StrEnum):
    OWN_ORG = "own org"
    ANY_ORG = "any org"
    NO = "no"


@dataclass(frozen=True)
class Caller:
    role: Role
    name: str  # who, for messages: "API key of org a", "IAM role arn:..."
    org_id: str | None = None  # a studio's org; None for the farm

    @classmethod
    def studio(cls, org_id: str, name: str) -> Caller:
        if not is_token(org_id):
            raise UnauthorizedException(f"{name} names the org {org_id!r}, not a valid id")
        return cls(Role.STUDIO, name, org_id)

    @classmethod
    def farm(cls, name: str) -> Caller:
        return cls(Role.FARM, name)


# updateJob is three operations, told apart by the status it sets.
CANCEL = "updateJob: cancel"
RETRY = "updateJob: retry"
REPORT = "updateJob: claim, run, report"

OPERATIONS: dict[str, dict[Role, Scope]] = {
    "createJob": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.NO},
    "getJob": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "listJobByStatusAndCreatedAt": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    CANCEL: {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.NO},
    RETRY: {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    REPORT: {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
    "createJobEvent": {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
    "getJobEvent": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "listJobEventByJobIdAndCreatedAt": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "createRenderRun": {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
    "getRenderRun": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "listRenderRunByJobId": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "createGenerationRun": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.NO},
    "getGenerationRun": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "whoAmI": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "createRenderChunk": {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
    "updateRenderChunk": {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
    "getRenderChunk": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "listRenderChunkByJobIdAndCreatedAt": {Role.STUDIO: Scope.OWN_ORG, Role.FARM: Scope.ANY_ORG},
    "listRenderChunkByStatusAndCreatedAt": {Role.STUDIO: Scope.NO, Role.FARM: Scope.ANY_ORG},
}

# Job fields only the farm writes (studios may not set them, at create or later).
FARM_FIELDS = frozenset(
    {
        "claimedByAgentId",
        "retryCount",
        "failureReason",
        "taskArn",
        "heartbeatAt",
        "progress",
        "startedAt",
        "finishedAt",
        "chunkCount",
        "chunksLanded",
    }
)
# Job fields fixed when the job is created: no update changes them.
FIXED_FIELDS = frozenset({"orgId", "kind", "inputJson", "maxRetries", "executionMode"})
# What a studio's manual retry clears, so the next attempt starts clean.
RETRY_CLEARS = frozenset(
    {"claimedByAgentId", "taskArn", "heartbeatAt", "startedAt", "finishedAt", "progress"}
)
UNFINISHED = frozenset(JobStatus) - FINISHED_STATUSES


def authorize(caller: Caller, operation: str, org_id: str | None = None, what: str = "") -> None:
    """UnauthorizedException unless ``caller`` may do ``operation`` (on a record of
    ``org_id``, when one is given)."""
    scope = OPERATIONS[operation][caller.role]
    if scope is Scope.NO:
        raise UnauthorizedException(
            f"Not Authorized to access {operation}: only "
            f"{_who_may(operation)} may, and the caller is {caller.name}"
        )
    if scope is Scope.OWN_ORG and org_id is not None and org_id != caller.org_id:
        raise UnauthorizedException(
            f"Not Authorized to access {operation}: {what or 'the record'} is not "
            f"org {caller.org_id}'s, and the caller is {caller.name}"
        )


def listing_org(caller: Caller, operation: str) -> str | None:
    """The org a listing is limited to for this caller (None: every org)."""
    authorize(caller, operation)
    return caller.org_id if OPERATIONS[operation][caller.role] is Scope.OWN_ORG else None


def update_operation(caller: Caller, new_status: JobStatus | None) -> str:
    """Which of the updateJob operations an update setting ``new_status`` is."""
    if new_status is JobStatus.CANCELED:
        return CANCEL
    if new_status is JobStatus.QUEUED and caller.role is Role.STUDIO:
        return RETRY
    return REPORT


def allowed_from(caller: Caller, new_status: JobStatus | None) -> frozenset[JobStatus]:
    """The statuses a job may be in for ``caller``'s update to ``new_status`` (None: no
    status change): the transitions status.py allows, minus every way out of a finished
    job but the manual retry (failed -> queued); a studio's queued is only that retry."""
    if new_status is None:
        return UNFINISHED
    if new_status is JobStatus.QUEUED and caller.role is Role.STUDIO:
        return frozenset({JobStatus.FAILED})
    allowed = predecessors(new_status) - FINISHED_STATUSES
    if new_status is JobStatus.QUEUED:
        allowed |= {JobStatus.FAILED}
    return allowed


def check_job_fields(caller: Caller, operation: str, names: set[str] | frozenset[str]) -> None:
    """Refuse fields this caller may not set in a createJob or updateJob: after create,
    the fields a job is created with (anyone); the farm's fields (a studio); and in a
    studio's update, anything but the status."""
    if operation == "createJob":
        refused = names & FARM_FIELDS if caller.role is Role.STUDIO else set()
    else:
        fixed = sorted(names & FIXED_FIELDS)
        if fixed:
            raise UnauthorizedException(
                f"Not Authorized to access {operation}: {', '.join(fixed)} "
                "never change once the job is created"
            )
        refused = names - {"status"} if caller.role is Role.STUDIO else set()
    if refused:
        raise UnauthorizedException(
            f"Not Authorized to access {operation}: {', '.join(sorted(refused))} "
            f"{'is' if len(refused) == 1 else 'are'} the farm's to set, "
            f"and the caller is {caller.name}"
        )


def _who_may(operation: str) -> str:
    roles = [role for role, scope in OPERATIONS[operation].items() if scope is not Scope.NO]
    return " or ".join("the farm" if role is Role.FARM else "a studio" for role in roles)


# AppSync identities


@dataclass(frozen=True)
class AppSyncAuthConfig:
    """How the resolver tells callers apart (environment of the resolver Lambda):

    FARM_ROLE_ARNS  comma-separated IAM role ARNs whose sessions are the farm
    API_KEY_ORG_ID  the org the stack's API key acts for; unset: API keys are refused
    ORG_CLAIM       the Cognito claim naming a user's org (default custom:orgId)
    """

    farm_roles: frozenset[tuple[str, str]]  # (account, role name)
    api_key_org: str | None = None
    org_claim: str = "custom:orgId"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppSyncAuthConfig:
        env = os.environ if env is None else env
        roles = [arn.strip() for arn in (env.get("FARM_ROLE_ARNS") or "").split(",")]
        return cls(
            farm_roles=frozenset(_role_of(arn) for arn in roles if arn),
            api_key_org=env.get("API_KEY_ORG_ID") or None,
            org_claim=env.get("ORG_CLAIM") or "custom:orgId",
        )


def caller_from_appsync(event: Mapping[str, Any], config: AppSyncAuthConfig) -> Caller:
    """The caller of an AppSync direct Lambda resolver event, from its ``identity``:
    Cognito user pools (``claims``), IAM (``userArn``), or none with an ``x-api-key``
    header (API key). UnauthorizedException for anyone the model does not know."""
    identity = event.get("identity")
    if not identity:
        headers = (event.get("request") or {}).get("headers") or {}
        headers = {name.lower(): value for name, value in headers.items()}
        if not headers.get("x-api-key"):
            raise UnauthorizedException("the request carries no identity and no API key")
        if config.api_key_org is None:
            raise UnauthorizedException(
                "API keys may not call the jobs API: the stack binds none to an org"
            )
        return Caller.studio(config.api_key_org, f"the API key of org {config.api_key_org}")
    if "claims" in identity:
        return _cognito_caller(identity, config)
    if identity.get("userArn"):
        arn = identity["userArn"]
        if _role_of(arn) in config.farm_roles:
            return Caller.farm(f"IAM role {arn}")
        raise UnauthorizedException(f"IAM principal {arn} is not one of the farm's roles")
    raise UnauthorizedException("the request's identity is neither a Cognito user nor IAM")


def _cognito_caller(identity: Mapping[str, Any], config: AppSyncAuthConfig) -> Caller:
    claims = identity.get("claims") or {}
    user = identity.get("username") or claims.get("cognito:username") or identity.get("sub")
    name = f"Cognito user {user}"
    org = claims.get(config.org_claim)
    if org:
        return Caller.studio(org, name)
    groups = identity.get("groups") or claims.get("cognito:groups") or []
    if len(groups) == 1:
        return Caller.studio(groups[0], name)
    if groups:
        raise UnauthorizedException(
            f"{name} is in several groups ({', '.join(groups)}); set its {config.org_claim} "
            "attribute to say which org it acts for"
        )
    raise UnauthorizedException(
        f"{name} has no org: give it the {config.org_claim} attribute or put it in the "
        "group named for its org"
    )


def _role_of(arn: str) -> tuple[str, str]:
    """(account, role name) of a role ARN (``arn:aws:iam::ACCOUNT:role[/path]/NAME``) or of
    a session of it (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``)."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return ("", arn)
    account, resource = parts[4], parts[5]
    if resource.startswith("assumed-role/"):
        return (account, resource.split("/")[1])
    if resource.startswith("role/"):
        return (account, resource.rsplit("/", 1)[-1])
    return (account, resource)
