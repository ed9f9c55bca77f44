"""RenderRun.mp4Url and posterUrl: signed /files/ links served with byte ranges by the local
server, presigned S3 URLs from the AppSync resolver; whoAmI; the page's routes."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from handlers import jobs_resolver
from renderlib.farm.storage import LocalStorage
from renderlib.jobs.file_server import files_app
from renderlib.jobs.media_links import LocalLinks
from renderlib.jobs.server import start_server
from tests.conftest import REGION, farm_client, studio_client
from tests.jobs.conftest import appsync_event
from tests.jobs.test_jobs_lambda_resolver import FARM, STUDIO

MP4 = bytes(range(256)) * 40  # stands in for a video: only its bytes matter here


def origin(url: str) -> str:
    return url.removesuffix("/graphql")


def get(url: str, headers: dict | None = None):
    """(status, headers, body) of a GET, HTTP errors included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def finished_job(farm, studio, org: str, storage_root: Path | None) -> str:
    """A job of ``org`` that succeeded with a RenderRun whose files are in storage."""
    job = studio.create_job(org, {"generationRunId": "gen-1", "videoId": "intro"})
    base = f"renders/{org}/intro/{job.id}"
    if storage_root is not None:
        storage = LocalStorage(storage_root)
        (storage_root.parent / "video.mp4").write_bytes(MP4)
        (storage_root.parent / "poster.jpg").write_bytes(b"\xff\xd8poster")
        storage.upload(storage_root.parent / "video.mp4", f"{base}/video.mp4")
        storage.upload(storage_root.parent / "poster.jpg", f"{base}/poster.jpg")
    farm.claim(job.id, "agent")
    farm.mark_running(job.id)
    farm.create_render_run(
        job.id,
        org_id=org,
        video_id="intro",
        mp4_artifact_key=f"{base}/video.mp4",
        poster_artifact_key=f"{base}/poster.jpg",
        duration=1.0,
        frames=10,
    )
    farm.succeed(job.id)
    return job.id


def run_links(client, job_id: str) -> dict:
    answer = client._data(
        "query($j: ID!) { listRenderRunByJobId(jobId: $j) { items { mp4Url posterUrl } } }",
        {"j": job_id},
    )
    return answer["listRenderRunByJobId"]["items"][0]


@pytest.fixture
def served(tmp_path, api_keys):
    storage_root = tmp_path / "storage"
    storage_root.mkdir()
    with start_server(tmp_path / "jobs.db", api_keys, storage=storage_root) as server:
        farm = farm_client(server.url, api_keys)
        studio = studio_client(server.url, api_keys, "org-a")
        yield server, farm, studio, finished_job(farm, studio, "org-a", storage_root)


def test_a_run_links_to_its_files_which_are_served_with_byte_ranges(served):
    server, _farm, studio, job_id = served
    links = run_links(studio, job_id)
    assert links["mp4Url"].startswith(f"/files/renders/org-a/intro/{job_id}/video.mp4?")

    status, headers, body = get(origin(server.url) + links["mp4Url"])
    assert (status, headers["Content-Type"], body) == (200, "video/mp4", MP4)
    assert headers["Accept-Ranges"] == "bytes"

    status, headers, body = get(origin(server.url) + links["mp4Url"], {"Range": "bytes=100-299"})
    assert status == 206 and body == MP4[100:300]
    assert headers["Content-Range"] == f"bytes 100-299/{len(MP4)}"

    status, headers, body = get(origin(server.url) + links["posterUrl"])
    assert (status, headers["Content-Type"], body) == (200, "image/jpeg", b"\xff\xd8poster")


def test_a_file_is_served_only_through_a_valid_link_to_a_stored_render(served):
    server, _farm, studio, job_id = served
    base = origin(server.url)
    link = run_links(studio, job_id)["mp4Url"]
    path, query = link.split("?")
    assert get(base + link)[0] == 200
    assert get(base + path)[0] == 403  # no signature
    assert get(base + path + "?" + re.sub(r"signature=[^&]+", "signature=forged", query))[0] == 403
    other = path.replace("video.mp4", "poster.jpg")
    assert get(base + other + "?" + query)[0] == 403  # a signature is for one key


def test_only_stored_keys_under_renders_are_served_even_with_a_valid_link(tmp_path):
    from werkzeug.test import Client

    root = tmp_path / "storage"
    (root / "generations").mkdir(parents=True)
    (root / "generations" / "script.json").write_text("{}")
    (tmp_path / "jobs.db").write_text("secret")
    links = LocalLinks()
    client = Client(files_app(root, links))
    for key in ("generations/script.json", "renders/org-a/none.mp4", "renders/../../jobs.db"):
        assert client.get(links.url(key)).status_code == 404, key


def _signature(link: str) -> tuple[str, str]:
    expires = re.search(r"expires=(\d+)", link).group(1)
    signature = re.search(r"signature=([^&]+)", link).group(1)
    return expires, signature


def test_expired_links_are_refused():
    now = [1000.0]
    links = LocalLinks(seconds=60, clock=lambda: now[0])
    link = links.url("renders/a/b/c/video.mp4")
    assert links.verify("renders/a/b/c/video.mp4", *_signature(link))
    now[0] += 61
    assert not links.verify("renders/a/b/c/video.mp4", *_signature(link))


def test_another_orgs_run_gets_no_link(served, api_keys):
    server, _farm, _studio, job_id = served
    other = studio_client(server.url, api_keys, "org-b")
    with pytest.raises(Exception, match="Not Authorized"):
        run_links(other, job_id)


def test_a_server_without_storage_gives_no_links(tmp_path, api_keys):
    with start_server(tmp_path / "jobs.db", api_keys) as server:
        farm = farm_client(server.url, api_keys)
        studio = studio_client(server.url, api_keys, "org-a")
        job_id = finished_job(farm, studio, "org-a", None)
        assert run_links(studio, job_id) == {"mp4Url": None, "posterUrl": None}
        assert get(origin(server.url) + "/files/renders/x.mp4?expires=1&signature=x")[0] == 404


def test_who_am_i(served, api_keys):
    _server, farm, studio, _job = served
    who = "{ whoAmI { role orgId } }"
    assert studio._data(who, {})["whoAmI"] == {"role": "studio", "orgId": "org-a"}
    assert farm._data(who, {})["whoAmI"] == {"role": "farm", "orgId": None}


def test_the_page_is_served_beside_the_api_with_a_same_origin_policy(served):
    server, *_ = served
    base = origin(server.url)
    status, headers, body = get(base + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="farm.js"' in body
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self' https:;" in policy
    assert "script-src 'self';" in policy  # scripts from this origin alone
    for name, kind in (("farm.js", "text/javascript"), ("farm.css", "text/css")):
        status, headers, _body = get(f"{base}/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind)
    assert get(base + "/favicon.ico")[0] == 204
    assert get(base + "/elsewhere")[0] == 404


def test_every_graphql_document_of_the_page_is_valid_against_the_schema(tmp_path):
    from graphql import parse, validate

    from renderlib.jobs.server import build_schema
    from renderlib.jobs.service import JobsService
    from renderlib.jobs.sqlite_store import SqliteStore

    source = (Path(__file__).parents[2] / "renderlib/jobs/web/farm.js").read_text()
    constants = dict(re.findall(r"const (\w+_FIELDS) = [`\"]([^`\"]*)[`\"];", source))
    documents = re.findall(r"`((?:query|mutation) [^`]*)`", source)
    assert len(documents) == 8
    schema = build_schema(JobsService(SqliteStore(tmp_path / "jobs.db")))
    for document in documents:
        text = re.sub(r"\$\{(\w+)\}", lambda m: constants.get(m.group(1), ""), document)
        assert validate(schema, parse(text)) == [], text


def test_the_resolver_presigns_s3_links_to_a_runs_files(resolver_env, aws_env):
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="renders-bucket")
    resolver_env.setenv("RENDER_BUCKET", "renders-bucket")
    jobs_resolver._dependencies.cache_clear()

    def invoke(parent, field, identity, **arguments):
        return jobs_resolver.handler(appsync_event(parent, field, identity, arguments), None)

    job = invoke(
        "Mutation",
        "createJob",
        STUDIO,
        input={"kind": "render", "orgId": "org-1", "inputJson": {"generationRunId": "g"}},
    )
    key = f"renders/org-1/intro/{job['id']}/video.mp4"
    s3.put_object(Bucket="renders-bucket", Key=key, Body=MP4)
    invoke(
        "Mutation",
        "createRenderRun",
        FARM,
        input={
            "jobId": job["id"],
            "orgId": "org-1",
            "videoId": "intro",
            "status": "succeeded",
            "mp4ArtifactKey": key,
        },
    )
    [run] = invoke("Query", "listRenderRunByJobId", STUDIO, jobId=job["id"])["items"]
    assert "posterUrl" not in run  # the run has no poster
    assert "X-Amz-Signature=" in run["mp4Url"] and key in run["mp4Url"]
    status, _headers, body = get(run["mp4Url"], {"Range": "bytes=0-99"})
    assert status == 206 and body == MP4[:100]
    assert invoke("Query", "getRenderRun", STUDIO, id=run["id"])["mp4Url"].startswith(aws_env)


def test_the_access_log_leaves_out_query_strings(tmp_path, api_keys, caplog):
    import logging
    import threading

    from renderlib.jobs.server import create_server

    server = create_server(tmp_path / "jobs.db", api_keys, access_log=True, storage=tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            url = f"http://127.0.0.1:{server.server_port}/files/renders/a.mp4"
            assert get(url + "?expires=1&signature=SECRET")[0] == 403
    finally:
        server.shutdown()
        server.server_close()
    assert "GET /files/renders/a.mp4 HTTP/1.1" in caplog.text
    assert "SECRET" not in caplog.text
