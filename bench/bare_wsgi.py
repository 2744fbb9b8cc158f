"""A bare Flask app with one "hello" route: the per-request baseline of the survey bench (bench only)."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/bench/hello")
def hello():
    return "hello"
