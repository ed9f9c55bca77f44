"""How the JobsClient proves who it is: requests ``AuthBase`` objects, one per AppSync mode.
(What each caller may then do is renderlib/jobs/authorization.py.)

- none: no credentials (the API refuses such a client).
- api_key: the ``x-api-key`` header (an AppSync API key, or a local farm key from
  api-keys.json); the key from JOBS_API_KEY or from the secret named by
  JOBS_API_KEY_SECRET_ARN.
- iam: SigV4 over the request (service ``appsync``) with boto3's credential chain.
- cognito: a user pool user (USER_PASSWORD_AUTH); the ID token goes in ``Authorization``
  and is refreshed before it expires. The farm's ``{"email", "password"}`` (the studio's
  shape; ``username`` instead of ``email`` is accepted too) come from the
  WORKER_CREDENTIALS environment variable (JSON, injected by ECS from Secrets Manager)
  or from the secret named by WORKER_CREDENTIALS_SECRET_ID.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from renderlib.errors import JobsApiError

AUTH_MODES = ("none", "api_key", "iam", "cognito")
# Refresh a Cognito token this long before it expires.
TOKEN_MARGIN_SECONDS = 60


class ApiKeyAuth(AuthBase):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-api-key"] = self.api_key
        return request


class SigV4Auth(AuthBase):
    """Signs each request for AppSync with the current (refreshable) AWS credentials."""

    def __init__(self, region: str, session: Any = None) -> None:
        import boto3

        self.region = region
        self.credentials = (session or boto3.Session()).get_credentials()
        if self.credentials is None:
            raise JobsApiError("JOBS_API_AUTH=iam but no AWS credentials were found")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth as BotoSigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {"Host": urlsplit(request.url).netloc}
        if request.headers.get("Content-Type"):
            headers["Content-Type"] = request.headers["Content-Type"]
        aws_request = AWSRequest(
            method=request.method, url=request.url, data=request.body or b"", headers=headers
        )
        BotoSigV4Auth(self.credentials.get_frozen_credentials(), "appsync", self.region).add_auth(
            aws_request
        )
        request.headers.update(dict(aws_request.headers.items()))
        return request


class CognitoAuth(AuthBase):
    """A Cognito user pool session: logs in with USER_PASSWORD_AUTH, refreshes tokens."""

    def __init__(
        self,
        username: str,
        password: str,
        client_id: str,
        cognito_client: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.username = username
        self.password = password
        self.client_id = client_id
        self.cognito = cognito_client
        self.clock = clock
        self._lock = threading.Lock()
        self._id_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.token()
        return request

    def token(self) -> str:
        with self._lock:
            if self._id_token is None:
                self._login()
            elif self.clock() >= self._expires_at - TOKEN_MARGIN_SECONDS:
                self._refresh()
            return self._id_token

    def invalidate(self) -> None:
        """Forget the ID token (the API refused it): the next request refreshes it."""
        with self._lock:
            self._expires_at = 0.0

    def _login(self) -> None:
        self._store(
            self._initiate(
                "USER_PASSWORD_AUTH", {"USERNAME": self.username, "PASSWORD": self.password}
            )
        )

    def _refresh(self) -> None:
        if self._refresh_token is None:
            self._login()
            return
        try:
            result = self._initiate("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": self._refresh_token})
        except JobsApiError:
            self._login()  # the refresh token expired or was revoked
            return
        self._store(result)

    def _initiate(self, flow: str, parameters: dict) -> dict:
        from botocore.exceptions import ClientError

        try:
            response = self.cognito.initiate_auth(
                ClientId=self.client_id, AuthFlow=flow, AuthParameters=parameters
            )
        except ClientError as exc:
            raise JobsApiError(
                f"Cognito sign-in ({flow}) as {self.username!r} failed: {exc}",
                exc.response.get("Error", {}).get("Code"),
            ) from None
        if "AuthenticationResult" not in response:
            raise JobsApiError(
                f"Cognito asked {self.username!r} for a challenge "
                f"({response.get('ChallengeName')}); the worker user needs a permanent password"
            )
        return response["AuthenticationResult"]

    def _store(self, result: dict) -> None:
        self._id_token = result["IdToken"]
        self._refresh_token = result.get("RefreshToken", self._refresh_token)
        self._expires_at = self.clock() + result.get("ExpiresIn", 3600)


def api_key(env: Mapping[str, str], secrets_client: Any = None) -> str:
    """JOBS_API_KEY (ECS injects it from Secrets Manager), else the secret named by
    JOBS_API_KEY_SECRET_ARN (a Lambda reads it at start)."""
    if env.get("JOBS_API_KEY"):
        return env["JOBS_API_KEY"]
    secret_id = env.get("JOBS_API_KEY_SECRET_ARN")
    if not secret_id:
        raise JobsApiError("JOBS_API_AUTH=api_key needs JOBS_API_KEY or JOBS_API_KEY_SECRET_ARN")
    return _secret_string(secret_id, env, secrets_client)


def worker_credentials(env: Mapping[str, str], secrets_client: Any = None) -> dict:
    """The worker user's {"username", "password"[, "clientId"]}; an "email" is its username."""
    if env.get("WORKER_CREDENTIALS"):
        return _credentials_json(env["WORKER_CREDENTIALS"], "WORKER_CREDENTIALS")
    secret_id = env.get("WORKER_CREDENTIALS_SECRET_ID")
    if not secret_id:
        raise JobsApiError(
            "JOBS_API_AUTH=cognito needs WORKER_CREDENTIALS (JSON with email and password) "
            "or WORKER_CREDENTIALS_SECRET_ID (a Secrets Manager secret holding that JSON)"
        )
    return _credentials_json(_secret_string(secret_id, env, secrets_client), f"secret {secret_id}")


def _secret_string(secret_id: str, env: Mapping[str, str], secrets_client: Any) -> str:
    from botocore.exceptions import ClientError

    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager", region_name=aws_region(env))
    try:
        return secrets_client.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as exc:
        raise JobsApiError(f"cannot read secret {secret_id}: {exc}") from None


def _credentials_json(text: str, source: str) -> dict:
    try:
        credentials = json.loads(text)
    except ValueError:
        credentials = None
    if isinstance(credentials, dict) and "username" not in credentials and "email" in credentials:
        credentials = {**credentials, "username": credentials["email"]}
    if not isinstance(credentials, dict) or not {"username", "password"} <= credentials.keys():
        raise JobsApiError(f'{source} must be JSON with "email" and "password"')
    return credentials


def aws_region(env: Mapping[str, str], url: str | None = None) -> str:
    """The region from AWS_REGION / AWS_DEFAULT_REGION, else from an AppSync URL's host."""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        return region
    host = urlsplit(url or "").hostname or ""
    # <id>.appsync-api.<region>.amazonaws.com
    parts = host.split(".")
    if len(parts) > 3 and parts[1] == "appsync-api":
        return parts[2]
    raise JobsApiError("set AWS_REGION: the jobs API's AWS region is unknown")
