"""The ceiling for bench/report.py: a bare Flask app served by the same gunicorn config.

gunicorn -c deploy/gunicorn.conf.py bench.hello:app
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "hello"
