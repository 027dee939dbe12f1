-- wrk script: POST /api/orders with a unique customer and Idempotency-Key per request, so
-- every request is a new order of WRK_PRODUCT (default `wrk-item`): accepted while stock
-- lasts, a sold-out refusal after (bench-wrk.sh's sold-out phases use a product with none).
local product = os.getenv("WRK_PRODUCT") or "wrk-item"
-- Each wrk run's keys must be new: Lua's generator starts from the same seed in every run,
-- so without this a later phase would send the keys of an earlier one, and a "refusal"
-- would be an idempotent replay looked up in the database (bench-wrk.sh sets WRK_RUN).
local run = os.getenv("WRK_RUN") or tostring(os.time())
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local key = string.format("wrk-%s-%d-%d", run, tid, n)
  local body = string.format('{"userId":"u-%s","productId":"%s","quantity":1}', key, product)
  return wrk.format("POST", "/api/orders", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body)
end
