"""gunicorn settings: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (the Procfile's web).

Every value can be changed from the environment; the README lists them.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = (
    os.environ.get("GUNICORN_BIND") or f"{os.environ.get('HOST', '0.0.0.0')}:{_int('PORT', 8000)}"
)
# gunicorn's rule of thumb for sync workers; platforms set WEB_CONCURRENCY to fit the box.
workers = _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)
# Sync workers, one request at a time each, no keep-alive: every page is short, CPU-bound
# Python plus a few quick queries, and slow clients are the TLS proxy's business (it buffers).
worker_class = "sync"
# A request still running after this is a stuck worker: killed and replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
# SIGTERM lets running requests finish for this long before the workers are killed.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# Recycling workers is off: bench/REPORT.md measures a worker's memory flat over 100,000
# requests. Set GUNICORN_MAX_REQUESTS to turn it on anyway.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Not preloaded: each worker imports the app itself, so `kill -HUP` on the master loads new
# code, and nothing opened at import time (a pool, a socket) is shared across a fork.
preload_app = False
# The heartbeat file in RAM: a slow or full disk must not get busy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Access log off by default (the proxy keeps one); GUNICORN_ACCESS_LOG=- logs to stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn 27 opens a control socket at one fixed path per user: two servers on one host
# would share it. Nothing here uses it.
control_socket_disable = True
proc_name = os.environ.get("GUNICORN_PROC_NAME", "b2bshop")
