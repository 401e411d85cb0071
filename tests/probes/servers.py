"""Real servers for probe tests: pycsw (subprocess), pyoai (thread), mosquitto (subprocess),
aiohttp apps on port 0."""

from __future__ import annotations

import contextlib
import getpass
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from aiohttp import web

try:
    from tests._services import missing, require_binary, tcp_open
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from _services import missing, require_binary, tcp_open  # type: ignore[no-redef]

__all__ = ["missing", "require_binary", "tcp_open"]

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "fixtures"
PYCSW_PYTHON = ROOT / ".venv-pycsw" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def pycsw(workdir: Path, maxrecords: int = 3, records: Path | None = None) -> Iterator[str]:
    """pycsw 2.6.2 loaded with the fixture records (or every ``*.xml`` in ``records``);
    yields its base URL (``/csw``)."""
    proc = subprocess.Popen(
        [
            str(PYCSW_PYTHON),
            str(HERE / "pycsw_server.py"),
            "--port",
            "0",
            "--records",
            str(records or FIXTURES / "pycsw_records"),
            "--workdir",
            str(workdir),
            "--maxrecords",
            str(maxrecords),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until READY or exit
        if not line.startswith("READY"):
            raise RuntimeError(f"pycsw did not start (exit {proc.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/csw"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --- pyoai -------------------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _import_pyoai() -> Any:
    with warnings.catch_warnings():
        # pyoai 2.5.0 imports the deprecated cgi module
        warnings.simplefilter("ignore", DeprecationWarning)
        import cgi

        from oaipmh import common, error, metadata, server
    # pyoai 2.5.0 calls cgi.parse_qs, removed in Python 3.8; its own replacement is here
    if not hasattr(cgi, "parse_qs"):
        cgi.parse_qs = urllib.parse.parse_qs  # type: ignore[attr-defined]
    return common, error, metadata, server


class PyoaiRepository:
    """An IBatchingOAIPMH repository of ``n`` identifiers (no completeListSize)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.common, self.error, _, _ = _import_pyoai()

    def identify(self) -> Any:
        return self.common.Identify(
            repositoryName="GISC pyoai test provider",
            baseURL="http://127.0.0.1/oai",
            protocolVersion="2.0",
            adminEmails=["gisc@example.org"],
            earliestDatestamp=datetime(2020, 1, 1),
            deletedRecord="no",
            granularity="YYYY-MM-DDThh:mm:ssZ",
            compression=["identity"],
        )

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        return [
            (
                "iso19139",
                "http://www.isotc211.org/2005/gmd/gmd.xsd",
                "http://www.isotc211.org/2005/gmd",
            )
        ]

    def listIdentifiers(
        self,
        metadataPrefix: str,
        set: str | None = None,
        from_: Any = None,
        until: Any = None,
        cursor: int = 0,
        batch_size: int = 10,
    ) -> list[Any]:
        if metadataPrefix != "iso19139":
            raise self.error.CannotDisseminateFormatError(metadataPrefix)
        if self.n == 0:
            raise self.error.NoRecordsMatchError("no records")
        end = min(self.n, cursor + batch_size)
        return [
            self.common.Header(
                None, f"urn:x-wmo:md:int.wmo.wis::T{i:06d}", datetime(2024, 1, 1), [], False
            )
            for i in range(cursor, end)
        ]


@contextlib.contextmanager
def pyoai(n: int, batch: int = 100) -> Iterator[str]:
    _, _, metadata, server = _import_pyoai()
    oai = server.BatchingServer(
        PyoaiRepository(n),
        metadata_registry=metadata.MetadataRegistry(),
        resumption_batch_size=batch,
    )

    with serve_oai_wsgi(oai) as url:
        yield url


@contextlib.contextmanager
def serve_oai_wsgi(oai: Any) -> Iterator[str]:
    """Serve a pyoai server object over HTTP on a free loopback port; yields its URL."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        body = oai.handleRequest({k: v[0] for k, v in query.items()})
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/oai"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- mosquitto ---------------------------------------------------------------------------


@contextlib.contextmanager
def mosquitto(binary: str, workdir: Path, *, acl: bool) -> Iterator[dict[str, int]]:
    """A private mosquitto on free ports (tcp and, if built in, websockets).

    ``acl=False``: anonymous, anyone may publish (a badly configured broker).
    ``acl=True``: ``everyone`` may only read ``origin/a/wis2/#``; ``publisher`` may write.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tcp, ws = free_port(), free_port()
    lines = [
        # as root mosquitto would drop to user "mosquitto", who cannot read our temp files
        f"user {getpass.getuser()}",
        f"listener {tcp} 127.0.0.1",
        f"listener {ws} 127.0.0.1",
        "protocol websockets",
    ]
    if acl:
        pwfile = workdir / "passwd"
        pwfile.write_text("")
        for user in ("everyone", "publisher"):
            subprocess.run(
                ["mosquitto_passwd", "-b", str(pwfile), user, user], check=True, capture_output=True
            )
        aclfile = workdir / "acl"
        aclfile.write_text(
            "user everyone\ntopic read origin/a/wis2/#\n\nuser publisher\ntopic readwrite #\n"
        )
        lines += ["allow_anonymous false", f"password_file {pwfile}", f"acl_file {aclfile}"]
    else:
        lines += ["allow_anonymous true"]
    conf = workdir / "mosquitto.conf"
    # per_listener_settings false: the auth lines apply to both listeners
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                assert proc.stderr is not None
                raise RuntimeError(f"mosquitto exited: {proc.stderr.read()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", tcp), 0.2):
                break
            time.sleep(0.05)
        # The websockets listener may come up after the TCP one on a busy machine.
        ws_ok = False
        ws_deadline = time.monotonic() + 5
        while not ws_ok and time.monotonic() < ws_deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", ws), 0.5).close()
                ws_ok = True
            except OSError:
                time.sleep(0.1)
        yield {"tcp": tcp, "ws": ws if ws_ok else 0}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def notification(pubtime: datetime, n: int) -> bytes:
    """A WIS2 notification message in the shape of wis2-notification-message example1."""
    import json

    return json.dumps(
        {
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "conformsTo": ["http://wis.wmo.int/spec/wnm/1/conf/core"],
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [8.75, 50.1]},
            "properties": {
                "pubtime": pubtime.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "datetime": pubtime.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "data_id": f"de-dwd/data/core/weather/surface-based-observations/synop/{n}",
                "metadata_id": "urn:wmo:md:de-dwd:surface-based-observations.synop",
                "integrity": {"method": "sha512", "value": "AAAA"},
            },
            "links": [
                {
                    "href": f"https://example.org/data/{n}.bufr4",
                    "rel": "canonical",
                    "type": "application/bufr",
                }
            ],
        }
    ).encode()


# --- aiohttp -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: web.Application, ssl_context: Any = None) -> Any:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def self_signed_cert(workdir: Path) -> tuple[Path, Path] | None:
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return key, cert


if __name__ == "__main__":  # manual check: python -m tests.probes.servers
    with pyoai(25, 10) as url:
        print(url)
        sys.stdout.flush()
