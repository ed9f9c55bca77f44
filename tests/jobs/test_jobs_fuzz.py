"""Bounded property-based runs (hypothesis) over the values that enter the farm: ids,
org and video names and inputJson sent to the local server over HTTP, and storage keys
handed to local storage. Whatever comes in is either refused with a clear error or kept
exactly, and no path made from it leaves its folder."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderlib.errors import InvalidValueError, JobsApiError
from renderlib.farm.storage import LocalStorage
from renderlib.jobs import operations as ops
from renderlib.jobs.fields import is_token

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Ids: mostly near-miss tokens (the characters paths and keys care about), some any text.
NEAR = string.ascii_letters + string.digits + "._-/\\:\x00 ~$*"
ids = st.one_of(
    st.text(alphabet=NEAR, min_size=0, max_size=70),
    st.text(max_size=20),
    st.sampled_from(["..", ".", "-", "a" * 64, "a" * 65, "../../x", "/abs", "org-a/evil"]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
job_inputs = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"generationRunId": ids, "videoId": ids, "x": json_values}),
)
ORG = "org-f"


@BOUNDED
@given(job_id=ids, org=st.one_of(st.just(ORG), ids), input=job_inputs)
def test_create_job_refuses_or_keeps_exactly(studio, client, job_id, org, input):
    values = {
        "id": job_id,
        "orgId": org,
        "kind": "render",
        "status": "queued",
        "inputJson": json.dumps(input),
    }
    names = [job_id, org]
    if isinstance(input, dict):
        names += [input[k] for k in ("generationRunId", "videoId") if k in input]
    tokens = all(is_token(n) for n in names)
    try:
        created = studio(ORG).execute(ops.CREATE_JOB, {"input": values})["createJob"]
    except JobsApiError as error:
        if error.error_type == "ConditionalCheckFailedException":
            return  # an id an earlier example took
        # Refused for a reason the caller can act on, never an internal failure.
        assert error.error_type == ("UnauthorizedException" if tokens else "ValidationError")
        assert not (tokens and org == ORG), error
        return
    assert tokens and org == ORG
    stored = client.get_job(created["id"])
    assert (stored.id, stored.org_id, json.loads(stored.input_json)) == (job_id, org, input)


@BOUNDED
@given(key=st.text(alphabet=NEAR, max_size=60) | st.text(max_size=30))
def test_a_local_storage_key_never_names_a_file_outside_the_root(tmp_path, key):
    storage = LocalStorage(tmp_path / "storage")
    try:
        path = storage.path(key)
    except InvalidValueError:
        return
    assert Path(path).resolve().is_relative_to(storage.root.resolve())
    assert path != storage.root


@BOUNDED
@given(parts=st.lists(ids, min_size=1, max_size=4))
def test_keys_the_farm_makes_are_tokens_joined_or_refused(tmp_path, parts):
    storage = LocalStorage(tmp_path / "storage")
    if all(is_token(p) for p in parts):
        assert storage.key(*parts).split("/") == parts
    else:
        with pytest.raises(InvalidValueError):
            storage.key(*parts)
