"""The no-op job bench/drain_requests.py drains to measure the queue's own cost per job.

Workers import it as `bench.jobs_noop` (cwd /work/main; `bench` is a namespace package).
"""


def noop(n):
    return n
