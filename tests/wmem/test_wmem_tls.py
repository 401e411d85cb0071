"""The subscriber over MQTT with TLS and credentials: a second Mosquitto on a free port,
its certificate signed by a CA made here (openssl), a password file; a wrong CA or wrong
password is refused without a crash and nothing is handled."""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
import shutil
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._services import missing, require_binary
from tests.wmem.conftest import event, raw
from wisbot.services.wmem import Subscriber


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    mosquitto = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if mosquitto is None:
        missing("Mosquitto binary not found")
    require_binary("openssl", "TLS test certificates")
    require_binary("mosquitto_passwd", "Mosquitto password file")
    d = tmp_path
    for ca in ("ca", "other"):
        _ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             f"/CN=wisbot test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)
    _ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
         "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "gisc", "s3cret"],
                   check=True, capture_output=True)
    port = _free_port()
    (d / "m.conf").write_text(
        f"listener {port} 127.0.0.1\ncafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\n"
        f"keyfile {d / 'server.key'}\nallow_anonymous false\npassword_file {d / 'passwd'}\n"
        # started as root, mosquitto drops to its own user, which cannot read pytest's
        # private temporary folder
        + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([mosquitto, "-c", str(d / "m.conf")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    missing(f"mosquitto with TLS did not start: {out[-300:]}")
                import time
                time.sleep(0.05)
        yield port, d / "ca.pem", d / "other.pem"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


# paho-mqtt leaves the socket of a failed TLS handshake (the wrong CA) to the garbage
# collector, which closes it with a ResourceWarning
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_mqtts_with_credentials_and_a_ca_file(tls_broker: Any, wmem_app: Any) -> None:
    import aiomqtt

    port, ca, other = tls_broker
    app = await wmem_app()
    url = f"mqtts://localhost:{port}"
    wrong = [
        Subscriber(app.wmem, app.settings.model_copy(update={
            "wmem_brokers": [url], "wmem_username": "gisc", "wmem_ca_file": other})),
        Subscriber(app.wmem, app.settings.model_copy(update={
            "wmem_brokers": [url.replace("//", "//gisc:wrong@")], "wmem_ca_file": ca})),
    ]
    good = Subscriber(app.wmem, app.settings.model_copy(update={
        "wmem_brokers": [url.replace("//", "//gisc:s3cret@")], "wmem_ca_file": ca}))
    for sub in [*wrong, good]:
        await sub.start()
    try:
        await asyncio.wait_for(good.subscribed.wait(), 15)
        await asyncio.sleep(0.5)
        assert not wrong[0].connected and not wrong[1].connected
        subject = f"xx-tls{uuid.uuid4().hex[:6]}"
        ctx = ssl.create_default_context(cafile=str(ca))
        async with aiomqtt.Client("localhost", port, username="gisc", password="s3cret",
                                  tls_context=ctx) as pub:
            await pub.publish(f"monitor/a/wis2/{subject}", raw(event("gm-report",
                                                                     subject=subject)), qos=1)
        for _ in range(200):
            if app.wmem.outcomes["ticket"]:
                break
            await asyncio.sleep(0.05)
        await good.drain()
        assert app.wmem.outcomes["ticket"] == 1
    finally:
        for sub in [*wrong, good]:
            await sub.stop()
        gc.collect()
