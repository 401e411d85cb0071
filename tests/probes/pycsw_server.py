"""Serve pycsw 2.6.2 (OAI-PMH + SRU) on a port, as a stand-in for a WIS 1.0 GISC catalogue.

Run with the interpreter of ``.venv-pycsw`` (pycsw 2.6 needs SQLAlchemy<2, which clashes with
wisbot's own environment)::

    .venv-pycsw/bin/python tests/probes/pycsw_server.py --port 0 --records DIR --workdir DIR

It loads every ``*.xml`` in ``--records`` into a fresh SQLite repository, then prints one
line ``READY <port>`` on stdout once the socket listens, and serves until killed.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


def write_config(workdir: Path, db_url: str, port: int, maxrecords: int) -> Path:
    cfg = workdir / "pycsw.cfg"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            [server]
            home={workdir}
            url=http://127.0.0.1:{port}/csw
            mimetype=application/xml; charset=UTF-8
            encoding=UTF-8
            language=en-US
            maxrecords={maxrecords}
            pretty_print=false
            profiles=apiso

            [manager]
            transactions=false
            allowed_ips=127.0.0.1

            [metadata:main]
            identification_title=GISC Test Catalogue (pycsw)
            identification_abstract=pycsw serving WMO Core Metadata Profile records for tests
            identification_keywords=WIS,GISC
            identification_keywords_type=theme
            identification_fees=None
            identification_accessconstraints=None
            provider_name=Test GISC
            provider_url=http://127.0.0.1/
            contact_name=Duty Operator
            contact_position=Operator
            contact_address=1 Test Street
            contact_city=Offenbach
            contact_stateorprovince=Hesse
            contact_postalcode=63067
            contact_country=Germany
            contact_phone=+49-0
            contact_fax=+49-0
            contact_email=gisc@example.org
            contact_url=http://127.0.0.1/
            contact_hours=24/7
            contact_instructions=none
            contact_role=pointOfContact

            [repository]
            database={db_url}
            table=records
            """
        )
    )
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--records", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--maxrecords", type=int, default=3)
    args = ap.parse_args()

    from pycsw import wsgi
    from pycsw.core import admin, config

    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "records.db"
    db_url = f"sqlite:///{db_path}"
    if db_path.exists():
        db_path.unlink()
    admin.setup_db(db_url, "records", str(workdir))
    context = config.StaticContext()
    admin.load_records(context, db_url, "records", str(args.records))

    httpd = make_server("127.0.0.1", args.port, wsgi.application, handler_class=_QuietHandler)
    port = httpd.server_address[1]
    os.environ["PYCSW_CONFIG"] = str(write_config(workdir, db_url, port, args.maxrecords))
    # pycsw's wsgi module prints every PATH_INFO; keep our stdout for the READY line only
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    real_stdout.write(f"READY {port}\n")
    real_stdout.flush()
    httpd.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
