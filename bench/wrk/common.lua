-- Shared by the bench scripts (bench/report.py runs wrk with these in its environment):
-- BENCH_COOKIE    sent as the Cookie header (the signed-in session), when set
-- BENCH_HX=1      sends HX-Request: true (the htmx fragment)
-- done() prints one line "BENCH {json}" with the figures and the count of 5xx answers.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local cookie = os.getenv("BENCH_COOKIE") or ""
if cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
if os.getenv("BENCH_HX") == "1" then
  wrk.headers["HX-Request"] = "true"
end

server_errors = 0

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("server_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "server_errors": %d, '
      .. '"socket_errors": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, errors,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
