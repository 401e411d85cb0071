"""A real Synapse homeserver for the tests: generated config, loopback, a free port,
SQLite, shared-secret registration; started from the test venv, stopped by its PID."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

SERVER_NAME = "wisbot.test"

RELAXED = {"per_second": 10000, "burst_count": 10000}
RELAXED_LIMITS: dict[str, object] = {
    "rc_message": RELAXED,
    "rc_registration": RELAXED,
    "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
    "rc_joins": {"local": RELAXED, "remote": RELAXED},
    "rc_joins_per_room": RELAXED,
    "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
    "rc_room_creation": RELAXED,
    "rc_admin_redaction": RELAXED,
    "rc_3pid_validation": RELAXED,
    "rc_presence": {"per_user": RELAXED},
    "rc_federation": {"window_size": 1000, "sleep_limit": 1000, "sleep_delay": 0,
                      "reject_limit": 1000, "concurrent": 1000},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registered:
    user_id: str
    access_token: str
    device_id: str
    password: str


class Synapse:
    def __init__(self, root: Path, *, relaxed: bool = True) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self.config = root / "homeserver.yaml"
        self.log = root / "synapse.log"
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        log_config = root / "log.yaml"
        log_config.write_text(yaml.safe_dump({
            "version": 1,
            "formatters": {"p": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {"f": {"class": "logging.FileHandler", "formatter": "p",
                               "filename": str(root / "homeserver.log")}},
            "root": {"level": "WARNING", "handlers": ["f"]},
            "disable_existing_loggers": False,
        }))
        config: dict[str, object] = {
            "server_name": SERVER_NAME,
            "pid_file": str(root / "homeserver.pid"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client", "openid"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(root / "media"),
            "registration_shared_secret": self.secret,
            "report_stats": False,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "signing_key_path": str(root / "signing.key"),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "bcrypt_rounds": 4,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
        }
        if relaxed:
            config.update(RELAXED_LIMITS)
        self.config.write_text(yaml.safe_dump(config))
        subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config),
                        "--generate-keys"], check=True, capture_output=True, cwd=root)

    # ----- life cycle -------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        assert self.proc is None
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config)],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
            env={**os.environ, "SYNAPSE_ASYNC_IO_REACTOR": "0"})
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("synapse did not become healthy in time")

    def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # ----- users ------------------------------------------------------------------------
    def register(self, localpart: str, *, admin: bool = False) -> Registered:
        password = secrets.token_hex(8)
        url = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(url, timeout=10).json()["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join(p.encode() for p in
                                (nonce, localpart, password, "admin" if admin else "notadmin")))
        digest = mac.hexdigest()
        r = httpx.post(url, json={"nonce": nonce, "username": localpart, "password": password,
                                  "admin": admin, "mac": digest}, timeout=30)
        r.raise_for_status()
        body = r.json()
        return Registered(body["user_id"], body["access_token"], body["device_id"], password)
