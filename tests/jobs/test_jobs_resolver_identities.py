"""The AppSync Lambda resolver tells its callers apart from AppSync's identity: Cognito
users (ID tokens issued by moto's Cognito, org from the custom:orgId claim or the user's
group), IAM principals (a moto STS session of a farm role, and of another role), and the
stack's API key (bound to one org, or refused when the stack binds none)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from handlers import jobs_resolver
from renderlib.jobs.api_errors import UnauthorizedException, ValidationError
from tests.conftest import REGION
from tests.jobs.conftest import FARM_ROLE, appsync_event

PASSWORD = "Studio-Passw0rd!"


@pytest.fixture
def user_pool(aws_env):
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(
        PoolName="studios",
        Schema=[{"Name": "orgId", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="studio", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for group in ("org-b", "org-c"):
        cognito.create_group(GroupName=group, UserPoolId=pool)

    def user(name: str, org: str | None = None, groups: tuple[str, ...] = ()) -> dict:
        """A user signed in with USER_PASSWORD_AUTH; its identity as AppSync passes it."""
        attributes = [{"Name": "custom:orgId", "Value": org}] if org else []
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=name,
            TemporaryPassword="Temp-Passw0rd!",
            MessageAction="SUPPRESS",
            UserAttributes=attributes,
        )
        cognito.admin_set_user_password(
            UserPoolId=pool, Username=name, Password=PASSWORD, Permanent=True
        )
        for group in groups:
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=name, GroupName=group)
        token = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["IdToken"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return {
            "sub": claims["sub"],
            "issuer": claims["iss"],
            "username": claims["cognito:username"],
            "claims": claims,
            "groups": claims.get("cognito:groups"),
            "sourceIp": ["10.0.0.2"],
            "defaultAuthStrategy": "ALLOW",
        }

    return user


def iam_session(role_name: str) -> dict:
    """The identity AppSync passes for a caller signing with a session of ``role_name``."""
    session = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::123456789012:role/{role_name}", RoleSessionName="task-1"
    )["AssumedRoleUser"]
    return {
        "accountId": "123456789012",
        "userArn": session["Arn"],
        "username": session["AssumedRoleId"],
        "sourceIp": ["10.0.0.1"],
    }


API_KEY = None  # AppSync passes no identity for an API key caller, only its header
API_KEY_HEADERS = {"x-api-key": "da2-examplekey"}


@pytest.fixture
def call(resolver_env):
    def invoke(identity, parent_type, field_name, headers=None, **arguments):
        event = appsync_event(parent_type, field_name, identity, arguments, headers)
        return jobs_resolver.handler(event, None)

    return invoke


def create_job(call, identity, org, headers=None, **input_values):
    values = {"kind": "render", "status": "queued", "orgId": org, "inputJson": {"videoId": "v"}}
    return call(identity, "Mutation", "createJob", headers, input={**values, **input_values})


def test_cognito_users_act_for_the_org_their_claim_or_group_names(call, user_pool):
    alice = user_pool("alice", org="org-a")  # custom:orgId
    bob = user_pool("bob", groups=("org-b",))  # Amplify's group-per-org
    assert alice["claims"]["custom:orgId"] == "org-a" and bob["groups"] == ["org-b"]

    alices = create_job(call, alice, "org-a")
    bobs = create_job(call, bob, "org-b")
    with pytest.raises(UnauthorizedException, match="not org org-a's"):
        create_job(call, alice, "org-b")
    with pytest.raises(UnauthorizedException):
        call(alice, "Query", "getJob", id=bobs["id"])
    with pytest.raises(UnauthorizedException):
        call(bob, "Mutation", "updateJob", input={"id": alices["id"], "status": "canceled"})
    listed = call(alice, "Query", "listJobByStatusAndCreatedAt", status="queued")
    assert [job["id"] for job in listed["items"]] == [alices["id"]]
    # A studio user cannot act as the farm.
    with pytest.raises(UnauthorizedException, match="only the farm may"):
        call(
            alice,
            "Mutation",
            "updateJob",
            input={"id": alices["id"], "status": "claimed", "claimedByAgentId": "alice"},
        )
    canceled = call(
        alice, "Mutation", "updateJob", input={"id": alices["id"], "status": "canceled"}
    )
    assert canceled["status"] == "canceled"


def test_cognito_users_without_one_org_are_refused(call, user_pool):
    nobody = user_pool("carol")
    several = user_pool("dave", groups=("org-b", "org-c"))
    with pytest.raises(UnauthorizedException, match="has no org"):
        create_job(call, nobody, "org-a")
    with pytest.raises(UnauthorizedException, match="several groups"):
        create_job(call, several, "org-b")


def test_only_the_stacks_farm_roles_are_the_farm(call, user_pool):
    alice = user_pool("alice", org="org-a")
    job = create_job(call, alice, "org-a")
    claim = {"id": job["id"], "status": "claimed", "claimedByAgentId": "dispatcher"}
    with pytest.raises(UnauthorizedException, match="not one of the farm's roles"):
        call(iam_session("someone-else"), "Mutation", "updateJob", input=claim)
    farm = iam_session(FARM_ROLE.rsplit("/", 1)[1])
    claimed = call(
        farm, "Mutation", "updateJob", input=claim, condition={"status": {"eq": "queued"}}
    )
    assert claimed["status"] == "claimed"
    assert call(farm, "Query", "getJob", id=job["id"])["claimedByAgentId"] == "dispatcher"
    with pytest.raises(UnauthorizedException, match="only a studio may"):
        create_job(call, farm, "org-a")


def test_the_api_key_acts_for_the_one_org_the_stack_binds_it_to(call, resolver_env):
    with pytest.raises(UnauthorizedException, match="binds none to an org"):
        create_job(call, API_KEY, "org-a", API_KEY_HEADERS)
    resolver_env.setenv("API_KEY_ORG_ID", "org-k")
    jobs_resolver._dependencies.cache_clear()
    job = create_job(call, API_KEY, "org-k", API_KEY_HEADERS)
    assert job["orgId"] == "org-k"
    with pytest.raises(UnauthorizedException):
        create_job(call, API_KEY, "org-a", API_KEY_HEADERS)
    with pytest.raises(UnauthorizedException, match="no identity and no API key"):
        create_job(call, None, "org-k")
    with pytest.raises(UnauthorizedException):
        call(API_KEY, "Mutation", "createJobEvent", API_KEY_HEADERS,
             input={"jobId": job["id"], "type": "log", "message": "x"})  # fmt: skip


def test_bad_ids_are_refused_before_anything_is_stored(call, user_pool, dynamodb, table_names):
    alice = user_pool("alice", org="org-a")
    for values in ({"id": "../../x"}, {"inputJson": {"videoId": "/abs"}}):
        with pytest.raises(ValidationError, match="is not a valid id"):
            create_job(call, alice, "org-a", **values)
    with pytest.raises(ValidationError, match="is not a valid id"):
        create_job(call, alice, "org-a/evil")
    assert dynamodb.Table(table_names["Job"]).scan()["Count"] == 0
