"""Auth modes of the JobsClient: API key, IAM SigV4, Cognito user pool (moto)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.auth import SigV4Auth as BotoSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from renderlib.errors import JobsApiError, NotAuthorizedError
from renderlib.jobs.auth import CognitoAuth, aws_region, worker_credentials
from renderlib.jobs.client import JobsClient

REGION = "us-east-1"
JOB = {
    "id": "job-1",
    "orgId": "org",
    "kind": "render",
    "status": "queued",
    "inputJson": "{}",
    "retryCount": 0,
    "maxRetries": 3,
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
}


def ok(_request):
    return 200, {"data": {"getJob": JOB}}


def test_api_key(api, api_keys):
    with pytest.raises(NotAuthorizedError, match="UnauthorizedException"):
        JobsClient(api.url, retries=0).create_job("org", {})
    client = JobsClient.from_env(
        {
            "JOBS_API_URL": api.url,
            "JOBS_API_AUTH": "api_key",
            "JOBS_API_KEY": api_keys.add_org("org"),
        }
    )
    job = client.create_job("org", {"generationRunId": "g"})
    assert client.get_job(job.id).org_id == "org"


def test_api_key_from_secrets_manager(api, api_keys, aws_env):
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="studio-api-key", SecretString=api_keys.add_org("org")
    )
    client = JobsClient.from_env(
        {
            "JOBS_API_URL": api.url,
            "JOBS_API_AUTH": "api_key",
            "JOBS_API_KEY_SECRET_ARN": secret["ARN"],
            "AWS_REGION": REGION,
        }
    )
    assert client.create_job("org", {}).org_id == "org"
    with pytest.raises(JobsApiError, match="cannot read secret"):
        JobsClient.from_env(
            {
                "JOBS_API_AUTH": "api_key",
                "AWS_REGION": REGION,
                "JOBS_API_KEY_SECRET_ARN": "no-such-secret",
            }
        )


def test_iam_requests_are_sigv4_signed_for_appsync(scripted_api, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-example")
    api = scripted_api(ok)
    client = JobsClient.from_env(
        {"JOBS_API_URL": api.url, "JOBS_API_AUTH": "iam", "AWS_REGION": REGION}
    )
    assert client.get_job("job-1").id == "job-1"

    [request] = api.requests
    headers = request["headers"]
    authorization = headers["Authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{headers['X-Amz-Date'][:8]}/{REGION}/appsync/"
        "aws4_request"
    )
    assert headers["X-Amz-Security-Token"] == "session-example"

    # Recompute the signature from what the server received: it must match.
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    received = {name: value for name, value in headers.items() if name.lower() in signed}
    replay = AWSRequest(method="POST", url=request["url"], data=request["body"], headers=received)
    replay.context["timestamp"] = headers["X-Amz-Date"]
    signer = BotoSigV4Auth(
        Credentials("AKIDEXAMPLE", "secret-example", "session-example"), "appsync", REGION
    )
    expected = signer.signature(
        signer.string_to_sign(replay, signer.canonical_request(replay)), replay
    )
    assert authorization.endswith(f"Signature={expected}")


def test_region_from_appsync_url():
    url = "https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql"
    assert aws_region({}, url) == "eu-west-1"
    assert aws_region({"AWS_REGION": "us-east-2"}, url) == "us-east-2"
    with pytest.raises(JobsApiError, match="AWS_REGION"):
        aws_region({}, "http://127.0.0.1:4000/graphql")


def test_unknown_auth_mode():
    with pytest.raises(JobsApiError, match="not one of none, api_key, iam, cognito"):
        JobsClient.from_env({"JOBS_API_AUTH": "oauth"})


@pytest.fixture
def user_pool(aws_env):
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="studio")["UserPool"]["Id"]
    app = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="render-worker",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(
        UserPoolId=pool,
        Username="render-worker",
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username="render-worker", Password="Worker-Passw0rd!", Permanent=True
    )
    return cognito, app, pool


class CountingCognito:
    def __init__(self, cognito):
        self.cognito = cognito
        self.flows = []

    def initiate_auth(self, **arguments):
        self.flows.append(arguments["AuthFlow"])
        return self.cognito.initiate_auth(**arguments)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_cognito_credentials_from_secrets_manager(user_pool, scripted_api):
    _cognito, client_id, _pool = user_pool
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(
        Name="render-worker-credentials",
        SecretString=json.dumps({"username": "render-worker", "password": "Worker-Passw0rd!"}),
    )
    api = scripted_api(ok)
    client = JobsClient.from_env(
        {
            "JOBS_API_URL": api.url,
            "JOBS_API_AUTH": "cognito",
            "AWS_REGION": REGION,
            "WORKER_CREDENTIALS_SECRET_ID": "render-worker-credentials",
            "COGNITO_CLIENT_ID": client_id,
        }
    )
    assert client.get_job("job-1").id == "job-1"
    token = api.requests[0]["headers"]["Authorization"]
    assert claims(token)["token_use"] == "id"
    assert claims(token)["cognito:username"] == "render-worker"


def test_cognito_token_refresh_and_relogin(user_pool, scripted_api):
    cognito, client_id, pool = user_pool
    credentials = worker_credentials(
        {
            "WORKER_CREDENTIALS": json.dumps(
                {"username": "render-worker", "password": "Worker-Passw0rd!"}
            )
        }
    )
    now = [1000.0]
    counting = CountingCognito(cognito)
    auth = CognitoAuth(
        credentials["username"], credentials["password"], client_id, counting, clock=lambda: now[0]
    )
    answers = iter(
        [
            ok(None),
            ok(None),
            (
                401,
                {
                    "errors": [
                        {"errorType": "UnauthorizedException", "message": "Token has expired."}
                    ]
                },
            ),
            ok(None),
        ]
    )
    api = scripted_api(lambda _request: next(answers))
    client = JobsClient(api.url, auth, retries=0)

    client.get_job("job-1")
    assert counting.flows == ["USER_PASSWORD_AUTH"]
    now[0] += 3600  # the ID token is about to expire
    client.get_job("job-1")
    assert counting.flows == ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"]
    client.get_job("job-1")  # the API says 401 once: refresh and send again
    assert counting.flows == ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN_AUTH"]
    assert len(api.requests) == 4
    assert all(
        claims(r["headers"]["Authorization"])["cognito:username"] == "render-worker"
        for r in api.requests
    )


def test_cognito_bad_credentials(user_pool, scripted_api):
    cognito, client_id, pool = user_pool
    api = scripted_api(ok)
    auth = CognitoAuth("render-worker", "wrong", client_id, cognito)
    with pytest.raises(JobsApiError, match="Cognito sign-in .* failed"):
        JobsClient(api.url, auth, retries=0).get_job("job-1")
    assert api.requests == []


def test_cognito_sign_in_with_the_studios_email_and_password_secret(user_pool, scripted_api):
    """The studio keeps the farm's user as {email, password} in Secrets Manager (the shape
    infra's cognito attach mode writes): the dispatcher signs in from the secret, the worker
    from WORKER_CREDENTIALS, and both refresh the token before it expires."""
    cognito, client_id, pool = user_pool
    email = "render-farm@studio.example"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=email,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=email, Password="Farm-Passw0rd!", Permanent=True
    )
    sign_in = json.dumps({"email": email, "password": "Farm-Passw0rd!"})
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="farm/worker-credentials", SecretString=sign_in)["ARN"]
    api = scripted_api(ok)
    dispatcher = JobsClient.from_env(
        {
            "JOBS_API_URL": api.url,
            "JOBS_API_AUTH": "cognito",
            "AWS_REGION": REGION,
            "WORKER_CREDENTIALS_SECRET_ID": arn,
            "COGNITO_CLIENT_ID": client_id,
        }
    )
    dispatcher.get_job("job-1")
    assert claims(api.requests[0]["headers"]["Authorization"])["cognito:username"] == email

    credentials = worker_credentials({"WORKER_CREDENTIALS": sign_in})
    now = [1000.0]
    counting = CountingCognito(cognito)
    worker = CognitoAuth(
        credentials["username"], credentials["password"], client_id, counting, clock=lambda: now[0]
    )
    client = JobsClient(api.url, worker, retries=0)
    client.get_job("job-1")
    now[0] += 3600
    client.get_job("job-1")
    assert counting.flows == ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"]
    assert claims(api.requests[-1]["headers"]["Authorization"])["cognito:username"] == email


def test_worker_credentials_must_name_username_and_password():
    with pytest.raises(JobsApiError, match="email"):
        worker_credentials({"WORKER_CREDENTIALS": '{"user": "x"}'})
    with pytest.raises(JobsApiError, match="WORKER_CREDENTIALS_SECRET_ID"):
        worker_credentials({})
