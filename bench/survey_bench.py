"""Survey pages under gunicorn (2 workers, SQLite) against a minimal "hello" route in the same app.

Run: .venv/bin/python bench/survey_bench.py [--seconds 6] [--clients 4] [--repeat 3]
Each loader process keeps its respondents' session cookies, as a browser does; every POST saves page 1
of an in-progress response and is answered with a redirect (one request, not followed).
Targets: GET of a survey page >= 0.5x the hello rate, POST of one page of answers >= 0.3x.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-not-for-production"  # noqa: S105
TOKENS_PER_CLIENT = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare_database(url: str, count: int) -> list[str]:
    """Migrate, then create a published win/loss survey and `count` invitations; return their tokens."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, WINBACK_ENV="development")
    from flask_migrate import upgrade

    from app import create_app
    from app.codebook.service import ensure_default_codebook
    from app.crm.models import Account, Contact
    from app.db_types import utcnow
    from app.extensions import db
    from app.messaging.channels import Channel
    from surveys.builder import publish
    from surveys.invitations import create_invitation, invitation_token
    from surveys.library import WIN_LOSS, create_from_template

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        now = utcnow()
        ensure_default_codebook()
        version = publish(create_from_template(WIN_LOSS, now=now).versions[0], now=now)
        account = Account(crm_source="bench", crm_id="A1", name="Bench Co")
        tokens = []
        for n in range(count):
            contact = Contact(account=account, first_name="Ben", last_name=f"Ch{n}", email=f"b{n}@bench.test")
            db.session.add(contact)
            db.session.flush()
            tokens.append(
                invitation_token(create_invitation(version, contact, channel=Channel.EMAIL, now=now))
            )
        question_ids = [q.id for q in version.questions]
        db.session.commit()
        db.engine.dispose()
    return tokens, question_ids


def _request(conn_factory, method, path, body=None, headers=None):
    conn = conn_factory()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheader("Set-Cookie"), data
    finally:
        conn.close()


def _client(args) -> list[float] | None:
    """One loader process: a scenario for `seconds`; returns request latencies in seconds."""
    port, scenario, tokens, question_ids, seconds = args

    def factory():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    sessions = []
    if scenario in ("get", "post"):  # like a browser: the respondent's cookie comes back on every request
        for token in tokens:
            status, cookie, html = _request(factory, "GET", f"/s/{token}")
            csrf = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
            sessions.append((token, cookie.split(";", 1)[0], csrf))
    latencies = []
    errors = 0
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        if scenario == "hello":
            status, _, _ = _request(factory, "GET", "/bench/hello")
            ok = status == 200
        elif scenario == "get":
            token, cookie, _ = sessions[n % len(sessions)]
            status, _, _ = _request(factory, "GET", f"/s/{token}", headers={"Cookie": cookie})
            ok = status == 200
        else:
            token, cookie, csrf = sessions[n % len(sessions)]
            body = urlencode(
                [
                    ("csrf_token", csrf),
                    ("page", "1"),
                    ("action", "next"),
                    (f"q{question_ids[0]}", "price"),
                    (f"q{question_ids[1]}", "Globex"),
                    (f"q{question_ids[2]}", "support"),
                    (f"q{question_ids[2]}", "timing"),
                ]
            )
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            status, _, _ = _request(factory, "POST", f"/s/{token}", body, headers)
            ok = status == 302
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
        n += 1
    return latencies, errors


def _run(port, scenario, tokens, question_ids, seconds, clients):
    chunks = [tokens[i::clients] for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_client, [(port, scenario, chunk, question_ids, seconds) for chunk in chunks])
    latencies = sorted(lat for lats, _ in results for lat in lats)
    errors = sum(err for _, err in results)
    rps = len(latencies) / seconds
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else float("nan")
    return {"rps": round(rps, 1), "p95_ms": round(p95, 2), "requests": len(latencies), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of hello, get, post; medians reported")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    tokens, question_ids = _prepare_database(url, TOKENS_PER_CLIENT * options.clients)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "WINBACK_ENV": "development",
        "WINBACK_INSTANCE_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.survey_wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        _run(port, "hello", tokens, question_ids, 1.0, options.clients)  # warm up both workers
        _run(port, "get", tokens, question_ids, 1.0, options.clients)
        rounds = [
            {
                name: _run(port, name, tokens, question_ids, options.seconds, options.clients)
                for name in ("hello", "get", "post")
            }
            for _ in range(options.repeat)
        ]
        # Per route, the round with the median rate; ratios are the median of each round's own ratio,
        # so a load change on the shared machine between rounds moves both sides of a ratio alike.
        figures = {
            name: sorted((r[name] for r in rounds), key=lambda row: row["rps"])[len(rounds) // 2]
            for name in ("hello", "get", "post")
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    ratios = {
        name: round(statistics.median(r[name]["rps"] / (r["hello"]["rps"] or 1.0) for r in rounds), 2)
        for name in ("get", "post")
    }
    targets = {"get": 0.5, "post": 0.3}
    print(f"{'route':<28}{'req/s':>10}{'p95 ms':>10}{'errors':>8}{'ratio':>8}{'target':>8}")
    labels = {"hello": "GET /bench/hello", "get": "GET /s/<token>", "post": "POST /s/<token> (page 1)"}
    for name, row in figures.items():
        ratio = "1.00" if name == "hello" else f"{ratios[name]:.2f}"
        target = "" if name == "hello" else f">={targets[name]}"
        print(f"{labels[name]:<28}{row['rps']:>10}{row['p95_ms']:>10}{row['errors']:>8}{ratio:>8}{target:>8}")
    met = all(ratios[name] >= targets[name] for name in targets)
    print(
        f"Targets {'met' if met else 'NOT met'}: GET >= 0.5x and POST >= 0.3x the hello rate "
        f"(gunicorn 2 workers, SQLite, {options.clients} loader processes with one connection per request, "
        f"{options.repeat} rounds of {options.seconds:g} s per route, medians)."
    )
    print(
        json.dumps(
            {
                "bench": "survey",
                **figures,
                "ratio_get": ratios["get"],
                "ratio_post": ratios["post"],
                "targets_met": met,
                "workers": 2,
                "clients": options.clients,
                "rounds": options.repeat,
            }
        )
    )


if __name__ == "__main__":
    main()
