from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wisbot.probes.base import ProbeLimits

from .servers import PYCSW_PYTHON, missing, mosquitto, pycsw, require_binary, tcp_open

#: small limits so hostile-server tests finish in about a second
FAST = ProbeLimits(
    connect_timeout=1.0, read_timeout=0.5, total_timeout=1.5, max_bytes=64 * 1024, max_pages=50
)


@pytest.fixture(scope="session")
def pycsw_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PYCSW_PYTHON.exists():
        missing(f"pycsw venv missing ({PYCSW_PYTHON}); run `make -f mk/probes.mk pycsw-env`")
    with pycsw(tmp_path_factory.mktemp("pycsw")) as url:
        yield url


@pytest.fixture(scope="session")
def broker_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """An anonymous broker that accepts anyone's publish."""
    import shutil

    binary = shutil.which("mosquitto")
    if binary is None:
        if tcp_open("127.0.0.1", 1883):
            yield {"tcp": 1883, "ws": 0}
            return
        missing("no `mosquitto` on PATH and nothing on 127.0.0.1:1883")
        return
    with mosquitto(binary, tmp_path_factory.mktemp("mq-open"), acl=False) as ports:
        yield ports


@pytest.fixture(scope="session")
def broker_acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """A broker like a Global Broker: ``everyone`` may read, only ``publisher`` may write."""
    binary = require_binary("mosquitto", "a private Mosquitto with an ACL")
    require_binary("mosquitto_passwd", "a private Mosquitto with an ACL")
    with mosquitto(binary, tmp_path_factory.mktemp("mq-acl"), acl=True) as ports:
        yield ports


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
