"""The local jobs API's keys: one for the farm, one per org, in the farm folder.

``api-keys.json`` (mode 0600) holds ``{"farm": KEY, "orgs": {ORG: KEY, ...}}``. The local
server reads it (again whenever it changes, so an org added while it runs is known at
once) and knows each request's caller by its ``x-api-key`` header, as AppSync knows an
API key; ``renderlib farm up`` and ``renderlib api serve`` create it and print where it is;
the CLI reads the key it needs from it.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

from renderlib.errors import ConfigError
from renderlib.jobs.authorization import Caller
from renderlib.jobs.fields import check_token

KEYS_FILE = "api-keys.json"


class ApiKeys:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict = {}

    @classmethod
    def create(cls, path: str | Path, orgs: tuple[str, ...] | list[str] = ()) -> ApiKeys:
        """The keys file at ``path``, made if missing (with a farm key), with a key for
        each of ``orgs`` added if it has none."""
        keys = cls(path)
        if not keys.path.exists():
            keys._write({"farm": _new_key(), "orgs": {}})
        for org in orgs:
            keys.add_org(org)
        return keys

    def farm_key(self) -> str:
        return self._read()["farm"]

    def org_key(self, org: str) -> str:
        try:
            return self._read()["orgs"][org]
        except KeyError:
            raise ConfigError(
                f"{self.path} has no key for org {org!r}: add one with "
                f"`renderlib api key {org} --keys {self.path}`"
            ) from None

    def orgs(self) -> dict[str, str]:
        return dict(self._read()["orgs"])

    def add_org(self, org: str) -> str:
        """The org's key, made now if it has none."""
        check_token("org", org)
        keys = self._read()
        if org not in keys["orgs"]:
            keys = {"farm": keys["farm"], "orgs": {**keys["orgs"], org: _new_key()}}
            self._write(keys)
        return keys["orgs"][org]

    def caller(self, key: str | None) -> Caller | None:
        """Who sends ``key``: the farm, an org's studio, or None (no such key)."""
        if not key:
            return None
        keys = self._read()
        if hmac.compare_digest(key.encode(), keys["farm"].encode()):
            return Caller.farm("the farm key")
        for org, org_key in keys["orgs"].items():
            if hmac.compare_digest(key.encode(), org_key.encode()):
                return Caller.studio(org, f"the key of org {org}")
        return None

    def _read(self) -> dict:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise ConfigError(
                f"{self.path} does not exist: `renderlib farm up` or `renderlib api serve` "
                "creates it"
            ) from None
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if seen != self._seen:
                self._keys = _parse(self.path)
                self._seen = seen
            return self._keys

    def _write(self, keys: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file 0600; the rename replaces the old file whole.
        handle, partial = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(keys, out, indent=2)
                out.write("\n")
            os.replace(partial, self.path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise


def _parse(path: Path) -> dict:
    try:
        keys = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the API keys: {exc}") from None
    ok = isinstance(keys, dict) and isinstance(keys.get("farm"), str) and keys["farm"]
    ok = ok and isinstance(keys.get("orgs"), dict)
    ok = ok and all(isinstance(v, str) and v for v in keys["orgs"].values())
    if not ok:
        raise ConfigError(f'{path}: expected {{"farm": KEY, "orgs": {{ORG: KEY}}}}')
    return keys


def _new_key() -> str:
    return secrets.token_urlsafe(32)
