"""The page's asset server: byte ranges (media elements seek with them) and its folder limit."""

import urllib.error
import urllib.request

import pytest

from renderlib.page_server import AssetServer


def get(url: str, range_header: str | None = None):
    request = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})
    with urllib.request.urlopen(request) as response:
        return response.status, response.headers, response.read()


@pytest.fixture
def server(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "data.bin").write_bytes(bytes(range(100)))
    (tmp_path / "secret.txt").write_text("outside")
    with AssetServer(tmp_path / "site") as server:
        yield server


def test_whole_file_says_it_accepts_ranges(server):
    status, headers, body = get(f"http://{server.origin}/data.bin")
    assert (status, headers["Accept-Ranges"], body) == (200, "bytes", bytes(range(100)))


@pytest.mark.parametrize(
    "wanted, content_range, body",
    [
        ("bytes=10-19", "bytes 10-19/100", bytes(range(10, 20))),
        ("bytes=95-", "bytes 95-99/100", bytes(range(95, 100))),
        ("bytes=-3", "bytes 97-99/100", bytes(range(97, 100))),
        ("bytes=90-500", "bytes 90-99/100", bytes(range(90, 100))),
    ],
)
def test_byte_ranges(server, wanted, content_range, body):
    status, headers, got = get(f"http://{server.origin}/data.bin", wanted)
    assert (status, headers["Content-Range"], got) == (206, content_range, body)


def test_unsatisfiable_range_and_paths_outside_the_folder_are_refused(server):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(f"http://{server.origin}/data.bin", "bytes=100-")
    assert error.value.code == 416
    with pytest.raises(urllib.error.HTTPError) as error:
        get(f"http://{server.origin}/%2e%2e/secret.txt")
    assert error.value.code in (403, 404)
