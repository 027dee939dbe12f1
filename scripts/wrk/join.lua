-- wrk script: POST /api/products/WRK_PRODUCT/queue (default `wrk-line`) with a new customer
-- per request, so every request is a first join of the waiting room's line (#14).
local product = os.getenv("WRK_PRODUCT") or "wrk-line"
-- A new id per run: Lua's generator and these counters start the same in every run, and a
-- customer already in line would be answered their ticket again (bench-wrk.sh sets WRK_RUN).
local run = os.getenv("WRK_RUN") or tostring(os.time())
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local body = string.format('{"userId":"j-%s-%d-%d"}', run, tid, n)
  return wrk.format("POST", "/api/products/" .. product .. "/queue", { ["Content-Type"] = "application/json" }, body)
end
