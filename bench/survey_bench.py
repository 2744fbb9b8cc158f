"""Survey pages and the app's per-request overhead under gunicorn (2 workers, SQLite), against a bare Flask
"hello" (bench/bare_wsgi.py) served by a second gunicorn with the same settings.

Run: .venv/bin/python bench/survey_bench.py [--seconds 6] [--clients 4] [--repeat 3]
Each loader process keeps its respondents' session cookies, as a browser does; every POST saves page 1
of an in-progress response and is answered with a redirect (one request, not followed).
Targets: the app's own hello >= 0.85x the bare Flask hello (every page pays that overhead: security
headers, session, CSRF, limiter, sign-in), GET of a survey page (an English- and a German-speaking
contact's) >= 0.5x the bare Flask hello, POST of one
page of answers >= 0.3x the app's hello. Each round measures every route back to back; a ratio is the
median of the rounds' own ratios, with their range; within a round the routes take turns in
one-second slices. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import http.client
import io
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


def _prepare_database(url: str, count: int) -> tuple[list[str], list[str], list[int]]:
    """Migrate, then create a published win/loss survey (with its German and French translations) and
    `count` invitations to English-speaking and `count` to German-speaking contacts; return their tokens."""
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
    from surveys.demo_translations import translate_win_loss
    from surveys.invitations import create_invitation, invitation_token
    from surveys.library import WIN_LOSS, create_from_template

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        now = utcnow()
        ensure_default_codebook()
        draft = create_from_template(WIN_LOSS, now=now).versions[0]
        translate_win_loss(draft, now=now)
        version = publish(draft, now=now)
        account = Account(crm_source="bench", crm_id="A1", name="Bench Co")
        tokens: dict[str | None, list[str]] = {None: [], "de": []}
        for language, n in [(language, n) for language in tokens for n in range(count)]:
            contact = Contact(
                account=account, first_name="Ben", last_name=f"Ch{n}", email=f"b{n}{language}@bench.test"
            )
            contact.language = language
            db.session.add(contact)
            db.session.flush()
            tokens[language].append(
                invitation_token(create_invitation(version, contact, channel=Channel.EMAIL, now=now))
            )
        question_ids = [q.id for q in version.questions]
        db.session.commit()
        db.engine.dispose()
    return tokens[None], tokens["de"], question_ids


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
    if scenario in ("get", "get_de", "post"):  # like a browser: the cookie comes back on every request
        for token in tokens:
            status, cookie, html = _request(factory, "GET", f"/s/{token}")
            assert (b'<html lang="de"' in html) == (scenario == "get_de"), "the page is not in its language"
            csrf = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
            sessions.append((token, cookie.split(";", 1)[0], csrf))
    latencies = []
    errors = 0
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        if scenario in ("bare", "hello"):
            status, _, _ = _request(factory, "GET", "/bench/hello")
            ok = status == 200
        elif scenario in ("get", "get_de"):
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
    """The loaders on one route for `seconds`: (latencies of the requests that succeeded, errors)."""
    chunks = [tokens[i::clients] for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_client, [(port, scenario, chunk, question_ids, seconds) for chunk in chunks])
    return [lat for lats, _ in results for lat in lats], sum(err for _, err in results)


def _figures(latencies: list[float], errors: int, seconds: float) -> dict:
    latencies = sorted(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else float("nan")
    rps = len(latencies) / seconds
    return {"rps": round(rps, 1), "p95_ms": round(p95, 2), "requests": len(latencies), "errors": errors}


ROUTES = ("bare", "hello", "get", "get_de", "post")
SLICE_SECONDS = 1.0
LABELS = {
    "bare": "GET /bench/hello (bare)",
    "hello": "GET /bench/hello (app)",
    "get": "GET /s/<token>",
    "get_de": "GET /s/<token> (German)",
    "post": "POST /s/<token> (page 1)",
}
# ratio name: (route, the route it is measured against, target)
TARGETS = {
    "hello_over_bare": ("hello", "bare", 0.85),
    "get_over_bare": ("get", "bare", 0.5),
    # A German-speaking contact's page: the survey's German translation and German chrome.
    "get_de_over_bare": ("get_de", "bare", 0.5),
    "post_over_hello": ("post", "hello", 0.3),
}


def _serve(app_path: str, port: int, env: dict) -> subprocess.Popen:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_path],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    return server


def _ratios(rounds: list[dict]) -> dict:
    figures = {}
    for name, (route, against, target) in TARGETS.items():
        each = [r[route]["rps"] / (r[against]["rps"] or 1.0) for r in rounds]
        figures[name] = {
            "ratio": round(statistics.median(each), 2),
            "range": [round(min(each), 2), round(max(each), 2)],
            "target": target,
            "met": statistics.median(each) >= target,
        }
    return figures


def _cpu_per_request(url: str, workdir: Path, token: str, count: int = 500) -> dict[str, float]:
    """CPU microseconds per request of each app called in this process (no server, no client): the
    best of 5 runs of `count` requests. Load on the machine barely moves CPU time, unlike rates."""
    os.environ.update(DATABASE_URL=url, WINBACK_INSTANCE_DIR=str(workdir))
    from bench.bare_wsgi import app as bare
    from bench.survey_wsgi import app

    def environ(path: str, cookie: str | None = None) -> dict:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            **({"HTTP_COOKIE": cookie} if cookie else {}),
        }

    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)

    b"".join(app(environ(f"/s/{token}"), start_response))
    cookie = dict(answer["headers"])["Set-Cookie"].split(";", 1)[0]

    def best(wsgi_app, path: str, cookie: str | None = None) -> float:
        runs = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(count):
                b"".join(wsgi_app(environ(path, cookie), start_response))
            runs.append((time.process_time() - started) / count * 1e6)
        assert answer["status"].startswith("200"), answer["status"]
        return round(min(runs), 1)

    return {
        "bare": best(bare, "/bench/hello"),
        "hello": best(app, "/bench/hello"),
        "get": best(app, f"/s/{token}", cookie),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every route; medians reported")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    tokens, german, question_ids = _prepare_database(url, TOKENS_PER_CLIENT * options.clients)
    ports = {"bare": _free_port(), "app": _free_port()}
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "WINBACK_ENV": "development",
        "WINBACK_INSTANCE_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
    }
    servers = [
        _serve("bench.bare_wsgi:app", ports["bare"], env),
        _serve("bench.survey_wsgi:app", ports["app"], env),
    ]
    try:

        def run(name: str, seconds: float):
            port = ports["bare" if name == "bare" else "app"]
            return _run(
                port, name, german if name == "get_de" else tokens, question_ids, seconds, options.clients
            )

        def one_round() -> dict:
            # The routes take turns in one-second slices, so that a change of load on the shared
            # machine falls on every route of the round alike.
            slices = max(1, round(options.seconds / SLICE_SECONDS))
            taken: dict[str, tuple[list, int]] = {name: ([], 0) for name in ROUTES}
            for _ in range(slices):
                for name in ROUTES:
                    latencies, errors = run(name, SLICE_SECONDS)
                    taken[name] = (taken[name][0] + latencies, taken[name][1] + errors)
            return {name: _figures(*taken[name], slices * SLICE_SECONDS) for name in ROUTES}

        for name in ("bare", "hello", "get", "get_de"):  # warm up every worker (and its translation cache)
            run(name, 1.0)
        rounds = [one_round() for _ in range(options.repeat)]
        # Per route, the round with the median rate; ratios are the median of each round's own ratio,
        # so a load change on the shared machine between rounds moves both sides of a ratio alike.
        figures = {
            name: sorted((r[name] for r in rounds), key=lambda row: row["rps"])[len(rounds) // 2]
            for name in ROUTES
        }
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    ratios = _ratios(rounds)
    cpu = _cpu_per_request(url, workdir, tokens[0])
    print(f"{'route':<28}{'req/s':>10}{'p95 ms':>10}{'errors':>8}")
    for name, row in figures.items():
        print(f"{LABELS[name]:<28}{row['rps']:>10}{row['p95_ms']:>10}{row['errors']:>8}")
    print(f"{'ratio':<28}{'median':>10}{'range':>16}{'target':>8}")
    for name, r in ratios.items():
        low, high = r["range"]
        print(f"{name:<28}{r['ratio']:>10.2f}{f'{low:.2f} to {high:.2f}':>16}{'>=' + str(r['target']):>8}")
    met = all(r["met"] for r in ratios.values())
    print(
        f"CPU per request in-process (info, robust to load): bare hello {cpu['bare']} us, app hello "
        f"{cpu['hello']} us ({cpu['bare'] / cpu['hello']:.2f}x), survey GET {cpu['get']} us "
        f"({cpu['bare'] / cpu['get']:.2f}x)"
    )
    print(
        f"Targets {'met' if met else 'NOT met'} (gunicorn 2 workers for both apps, SQLite, {options.clients} "
        f"loader processes with one connection per request, {options.repeat} rounds of {options.seconds:g} s "
        "per route in one-second turns, medians)."
    )
    print(
        json.dumps(
            {
                "bench": "survey",
                **figures,
                "ratios": ratios,
                "cpu_us_per_request_info": cpu,
                "targets_met": met,
                "workers": 2,
                "clients": options.clients,
                "rounds": options.repeat,
            }
        )
    )


if __name__ == "__main__":
    main()
