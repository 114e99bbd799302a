-- GET the paths in BENCH_PATHS (space-separated) in turn. A path written "hx:/path" is sent
-- with HX-Request: true, "anon:/path" without the session cookie, "hxnew:/path?..." as hx: with
-- an argument the app ignores and that never repeats ("&_=<thread>-<n>"), so that no request
-- is answered from the fragment cache. See common.lua.
dofile("bench/wrk/common.lua")

local requests = {}
for entry in string.gmatch(os.getenv("BENCH_PATHS") or "/", "%S+") do
  local kind, path = string.match(entry, "^(%a+):(/.*)$")
  local headers = {}
  for name, value in pairs(wrk.headers) do
    if not (kind == "anon" and name == "Cookie") then
      headers[name] = value
    end
  end
  if kind == "hx" or kind == "hxnew" then
    headers["HX-Request"] = "true"
  end
  table.insert(requests, {path or entry, headers, kind == "hxnew"})
end
local n, sent = 0, 0

function request()
  n = n % #requests + 1
  sent = sent + 1
  local path = requests[n][1]
  if requests[n][3] then
    path = string.format("%s&_=%d-%d", path, thread_id or 0, sent)
  end
  return wrk.format("GET", path, requests[n][2])
end
