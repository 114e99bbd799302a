-- GET the paths in BENCH_PATHS (space-separated) in turn. A path written "hx:/path" is sent
-- with HX-Request: true, "anon:/path" without the session cookie. See common.lua.
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
  if kind == "hx" then
    headers["HX-Request"] = "true"
  end
  table.insert(requests, {path or entry, headers})
end
local n = 0

function request()
  n = n % #requests + 1
  return wrk.format("GET", requests[n][1], requests[n][2])
end
