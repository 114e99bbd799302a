-- POST /cart/invoices as the "Pay invoice" button does (htmx, CSRF token in the form), for
-- the invoices in BENCH_INVOICES in turn with a changing amount. Once an invoice is in the
-- cart, adding it again sets its amount (SPEC A4): the same view and service, a 200 each time.
dofile("bench/wrk/common.lua")

local invoices = {}
for number in string.gmatch(os.getenv("BENCH_INVOICES") or "", "%S+") do
  table.insert(invoices, number)
end
local token = os.getenv("BENCH_CSRF") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local n = 0

function request()
  n = n + 1
  local body = string.format(
    "invoice=%s&amount=%d.%02d&csrf_token=%s", invoices[n % #invoices + 1], 1 + n % 9, n % 100, token)
  return wrk.format(nil, "/cart/invoices", nil, body)
end
