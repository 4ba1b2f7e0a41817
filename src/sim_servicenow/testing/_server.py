"""Two ways to reach a WSGI fake: a loopback HTTP/1.1 server in a thread, or a requests adapter.

Standard library and requests only; `serve` with ``tls=True`` also needs ``trustme`` (the
``testing`` extra), imported when asked for.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import requests.adapters

__all__ = ["DropConnection", "ServedApp", "WSGIAdapter", "mount", "serve"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DropConnection(Exception):
    """Raised by a fake's WSGI app to make the server drop the connection without answering."""


def _call_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Run the WSGI app; return ``(status, reason, headers, body)``. `DropConnection` propagates."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        captured["status"] = status
        captured["headers"] = headers
        return lambda _data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    code, _, reason = captured["status"].partition(" ")
    return int(code), reason, list(captured["headers"]), body


def _base_environ(
    method: str, path: str, query: str, headers: Iterable[tuple[str, str]], body: bytes
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue
        else:
            http_key = "HTTP_" + key
            environ[http_key] = f"{environ[http_key]},{value}" if http_key in environ else value
    return environ


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY each loopback response waits ~40 ms for the peer's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = _base_environ(self.command, unquote(path), query, self.headers.items(), body)
        host, port = self.server.server_address[:2]
        environ.update(
            SERVER_NAME=str(host),
            SERVER_PORT=str(port),
            REMOTE_ADDR=self.client_address[0],
        )
        environ["wsgi.url_scheme"] = self.server.scheme
        try:
            status, reason, headers, payload = _call_app(self.server.app, environ)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: WSGIApp
    scheme: str = "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (a test's read timeout) is not the server's error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class ServedApp:
    """A fake served on loopback: `url` to point clients at, `app` to control the fake.

    With TLS, `ca_bundle` is the path of a PEM file holding the throwaway CA that signed the
    server certificate (pass it as ``verify=`` to requests, pysnc or our clients).
    """

    def __init__(self, app: Any, server: _Server, ca_bundle: str | None) -> None:
        self.app = app
        self._server = server
        self.host, self.port = server.server_address[:2]
        self.ca_bundle = ca_bundle
        scheme = "https" if ca_bundle else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"ServedApp(url={self.url!r}, app={type(self.app).__name__})"


@contextlib.contextmanager
def serve(
    app: Any, *, tls: bool = False, port: int = 0, host: str = "127.0.0.1", client_ca: str | None = None
) -> Iterator[ServedApp]:
    """Run the WSGI ``app`` on ``host`` (loopback) in a background thread for the ``with`` block.

    ``port=0`` picks a free port. ``tls=True`` serves HTTPS with a certificate from a throwaway CA
    (requires ``trustme``: ``pip install sim-servicenow[testing]``). With ``client_ca`` (the path of a PEM file
    of CA certificates) the server also demands a client certificate signed by one of them: mutual TLS.
    """
    if client_ca is not None and not tls:
        raise ValueError("client_ca needs tls=True: client certificates are part of the TLS handshake")
    server = _Server((host, port), _Handler)
    server.app = app
    ca_path: str | None = None
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    if tls:
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("serve(tls=True) needs trustme: pip install 'sim-servicenow[testing]'") from exc
        import ssl

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
        tmpdir = tempfile.TemporaryDirectory(prefix="sim-servicenow-ca-")
        ca_path = os.path.join(tmpdir.name, "ca.pem")
        ca.cert_pem.write_to_path(ca_path)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ServedApp(app, server, ca_path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if tmpdir is not None:
            tmpdir.cleanup()


class WSGIAdapter(requests.adapters.BaseAdapter):
    """A `requests` transport adapter that hands requests straight to a WSGI app, without sockets.

    >>> session.mount("https://fake-sn.test/", WSGIAdapter(fake))   # doctest: +SKIP
    """

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        from requests.structures import CaseInsensitiveDict
        from urllib3.response import HTTPResponse

        url = request.url or ""
        parts = urlsplit(url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = b"".join(body)  # type: ignore[arg-type]
        header_items = [(k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in request.headers.items()]
        environ = _base_environ(request.method or "GET", unquote(parts.path), parts.query, header_items, body)
        environ.update(
            SERVER_NAME=parts.hostname or "localhost",
            SERVER_PORT=str(parts.port or (443 if parts.scheme == "https" else 80)),
            REMOTE_ADDR="127.0.0.1",
            HTTP_HOST=parts.netloc,
        )
        environ["wsgi.url_scheme"] = parts.scheme
        try:
            status, reason, headers, payload = _call_app(self.app, environ)
        except DropConnection as exc:
            raise requests.ConnectionError("connection dropped by the fake", request=request) from exc
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = CaseInsensitiveDict(headers)
        response.raw = HTTPResponse(
            body=io.BytesIO(payload), headers=dict(headers), status=status, preload_content=False
        )
        response._content = payload
        response.url = url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.connection = self  # type: ignore[assignment]
        return response

    def close(self) -> None:
        return None


def mount(session: requests.Session, url: str, app: Any) -> requests.Session:
    """Mount ``app`` on ``session`` for every URL starting with ``url``; returns the session."""
    session.mount(url if url.endswith("/") else url + "/", WSGIAdapter(app))
    return session
