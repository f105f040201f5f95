"""The hub's plain-HTTP answers to methods and paths it does not serve, HEAD and OPTIONS, and bodies it will not
read (issue 13, item 9). http.client, as most clients do, sends a whole request body before reading the answer."""

from __future__ import annotations

import http.client
from urllib.parse import urlparse

LIMIT = 4 * 1024 * 1024 + 64 * 1024  # LWSServer.Options.maxRequestBodyBytes


def connect(hub: str) -> http.client.HTTPConnection:
    url = urlparse(hub)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def call(conn: http.client.HTTPConnection, method: str, path: str, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()


def test_unserved_method_is_405_with_allow_and_keeps_the_connection(hub):
    conn = connect(hub)
    status, headers, body = call(conn, "POST", "/healthz", body=b'{"x":1}')
    assert status == 405
    assert headers["allow"] == "GET, HEAD, OPTIONS"
    assert body == "method POST not allowed on /healthz: allowed GET, HEAD, OPTIONS\n"
    # The body was read and the connection is still good for the next request.
    assert call(conn, "GET", "/healthz")[::2] == (200, "ok\n")
    for method, path in (("DELETE", "/metrics"), ("PUT", "/classes/spin-1"), ("PATCH", "/v1/classes/live")):
        status, headers, body = call(conn, method, path, body=b"" if method != "DELETE" else None)
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS"), (method, path)
        assert f"method {method} not allowed on {path}" in body
    conn.close()


def test_unknown_paths_are_404_naming_the_path(hub):
    conn = connect(hub)
    for method, path in (("GET", "/nothing/here"), ("POST", "/nothing"), ("GET", "/v1/classes/a/b/ws")):
        status, _, body = call(conn, method, path, body=b"x" if method == "POST" else None)
        assert (status, body) == (404, f"not found: {path}\n"), (method, path)
    conn.close()


def test_head_answers_like_get_without_the_body(hub):
    conn = connect(hub)
    for path in ("/healthz", "/", "/classes/spin-1"):
        get_status, get_headers, get_body = call(conn, "GET", path)
        status, headers, body = call(conn, "HEAD", path)
        assert (status, body) == (get_status, ""), path
        assert headers["content-type"] == get_headers["content-type"], path
        assert int(headers["content-length"]) == len(get_body.encode()), path
    # Had a HEAD answer carried its body, this answer would be read from those bytes.
    assert call(conn, "GET", "/healthz")[::2] == (200, "ok\n")
    conn.close()


def test_options_lists_the_allowed_methods(hub):
    conn = connect(hub)
    status, headers, body = call(conn, "OPTIONS", "/metrics")
    assert (status, headers["allow"], body) == (204, "GET, HEAD, OPTIONS", "")
    conn.close()


def test_body_over_the_limit_is_413_and_the_client_reads_it(hub):
    conn = connect(hub)
    size = LIMIT + 1
    status, headers, body = call(conn, "POST", "/healthz", body=b"x" * size)
    assert status == 413
    assert body == f"request body too large: {size} bytes, the limit is {LIMIT}\n"
    assert headers["connection"] == "close"
    conn.close()
    # The hub goes on serving.
    conn = connect(hub)
    assert call(conn, "GET", "/healthz")[::2] == (200, "ok\n")
    conn.close()


def test_chunked_request_body_is_411(hub):
    conn = connect(hub)
    conn.request("POST", "/healthz", body=iter([b"{", b"}"]), encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 411
    assert "Content-Length" in response.read().decode()
    conn.close()


def test_websocket_path_without_upgrade_is_426(hub):
    conn = connect(hub)
    status, _, body = call(conn, "GET", "/v1/classes/spin-1/ws")
    assert (status, body) == (426, "WebSocket upgrade required\n")
    conn.close()
