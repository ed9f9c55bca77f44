"""Links to a RenderRun's stored files (its MP4 and poster), for a browser to fetch.

The jobs API answers ``RenderRun.mp4Url`` and ``posterUrl`` with a link that works for a
limited time without further credentials, given only to a caller allowed to read the run
(the service checks that before it asks for a link), so a ``<video>`` or ``<img>`` can
load it with no header:

- in the cloud, a presigned S3 GET URL (``S3Links``), signed by the resolver's role;
- locally, a path on the API's own origin, ``/files/KEY?expires=T&signature=S``
  (``LocalLinks``), that the local server serves from the farm's storage with byte
  ranges (renderlib/jobs/file_server.py) once the signature, the expiry and the key
  check out. The signature is an HMAC under a secret of the server process, so links die
  with it; no API key ever goes into a link.

Only keys under ``renders/`` get links: that is all the page plays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from urllib.parse import quote, urlencode

from renderlib.farm.storage import RENDERS_PREFIX
from renderlib.jobs.fields import check_key, key_in

FILES_PATH = "/files/"
LINK_SECONDS = 3600
LINKED_KEYS = (("mp4ArtifactKey", "mp4Url"), ("posterArtifactKey", "posterUrl"))


class MediaLinks(ABC):
    @abstractmethod
    def url(self, key: str) -> str:
        """A time-limited link to the stored file ``key``."""

    def run_links(self, run: dict) -> dict:
        """``run`` (a RenderRun record) with ``mp4Url`` and ``posterUrl`` for the keys it
        has under renders/."""
        links = dict(run)
        for key_field, url_field in LINKED_KEYS:
            key = run.get(key_field)
            if isinstance(key, str) and key_in(key, RENDERS_PREFIX):
                links[url_field] = self.url(check_key(key_field, key))
        return links


class LocalLinks(MediaLinks):
    """Signed paths on the local server's origin, checked by ``verify``."""

    def __init__(
        self,
        secret: bytes | None = None,
        seconds: int = LINK_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.seconds = seconds
        self.clock = clock

    def url(self, key: str) -> str:
        expires = int(self.clock()) + self.seconds
        query = urlencode({"expires": expires, "signature": self._sign(key, expires)})
        return f"{FILES_PATH}{quote(key)}?{query}"

    def verify(self, key: str, expires: str | None, signature: str | None) -> bool:
        """Whether ``signature`` is this server's for ``key`` and has not expired."""
        if not expires or not signature or not expires.isdigit():
            return False
        if int(expires) < self.clock():
            return False
        return hmac.compare_digest(signature, self._sign(key, int(expires)))

    def _sign(self, key: str, expires: int) -> str:
        digest = hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class S3Links(MediaLinks):
    """Presigned GET URLs to the render bucket (the signer needs s3:GetObject on them)."""

    def __init__(self, client, bucket: str, seconds: int = LINK_SECONDS) -> None:
        self.client = client
        self.bucket = bucket
        self.seconds = seconds

    @classmethod
    def for_bucket(cls, bucket: str) -> S3Links:
        """Links signed with SigV4 (what S3 requires of new presigned URLs) by the
        credentials and region of the environment."""
        import boto3
        from botocore.config import Config

        return cls(boto3.client("s3", config=Config(signature_version="s3v4")), bucket)

    def url(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.seconds
        )
