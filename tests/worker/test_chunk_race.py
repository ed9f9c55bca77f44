"""Two finishers racing: the last two chunks of a job land at the same moment, each in its
own worker process (``python -m handlers.worker``, as the farm runs them). A proxy in
front of the jobs API holds each worker's first landing until both have sent theirs, so
both try to land on the same count: exactly one of them joins, one RenderRun."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from renderlib.farm.worker import run_worker
from renderlib.jobs.status import JobStatus
from renderlib.verify import probe
from tests.worker.conftest import submit_and_claim, tiny_run
from tests.worker.test_worker_process import log_lines, start_worker

HOLD_SECONDS = 300  # how long a held landing waits for the other (a worker that died)


class LandingBarrier:
    """An HTTP proxy to the jobs API that holds the first two chunk landings (updateJob
    setting chunksLanded) until both have arrived, then sends them on together."""

    def __init__(self, api_url: str) -> None:
        self.barrier = threading.Barrier(2, timeout=HOLD_SECONDS)
        self.landings: list[str] = []  # the chunksLanded value each landing asked for
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                landed = json.loads(body).get("variables", {}).get("input", {}).get("chunksLanded")
                if landed is not None:
                    with proxy._lock:
                        proxy.landings.append(landed)
                        held = len(proxy.landings) <= 2
                    if held:
                        proxy.barrier.wait()
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.post(api_url, data=body, headers=headers, timeout=60)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers["Content-Type"])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_two_chunks_landing_together_make_one_join_and_one_render_run(
    api, api_keys, client, studio, local_storage, tmp_path, marker_tmpdir
):
    run = tiny_run(tmp_path / "run", 4.0, width=160)
    job = submit_and_claim(client, studio, str(local_storage.root), run, chunks=2).job
    options = {"heartbeat_interval": 0.2, "time_limit": 300, "workers": 1}
    assert run_worker(job.id, 0, client=client, storage=local_storage, **options).status == "split"
    for chunk in client.list_chunks(job.id):
        client.claim_chunk(chunk.id, "test-dispatcher")
    proxy = LandingBarrier(api.url)
    try:
        workers = [
            start_worker(
                api,
                api_keys,
                job,
                marker_tmpdir,
                CHUNK_INDEX=str(index),
                JOBS_API_URL=proxy.url,
                RENDERLIB_STORAGE=str(local_storage.root),
            )
            for index in (0, 1)
        ]
        outputs = [worker.communicate(timeout=HOLD_SECONDS + 60) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
        proxy.close()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr

    # Both landed on "00"; one of the two writes lost and was retried on the new count.
    assert sorted(proxy.landings[:2]) == ["01", "10"]
    assert proxy.landings[2:] == ["11"]
    landed = sorted(
        line["message"]
        for stdout, _ in outputs
        for line in log_lines(stdout, job)
        if line["message"].startswith("chunk landed")
    )
    assert landed == ["chunk landed: 1/2", "chunk landed: 2/2"]
    done = client.get_job(job.id)
    assert (done.status, done.chunks_landed) == (JobStatus.SUCCEEDED, "11")
    joins = [e for e in client.list_events(job.id) if (e.message or "").startswith("joined")]
    assert len(joins) == 1
    (render_run,) = client.list_render_runs(job.id)
    assert probe(local_storage.path(render_run.mp4_artifact_key)).frames == 40
    assert [c.status for c in client.list_chunks(job.id)] == [JobStatus.SUCCEEDED] * 2
