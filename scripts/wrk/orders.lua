-- wrk script: POST /api/orders with a unique customer and Idempotency-Key per request, so
-- every request is a new order of WRK_PRODUCT (default `wrk-item`): accepted while stock
-- lasts, a sold-out refusal after (bench-wrk.sh's sold-out phases use a product with none).
local product = os.getenv("WRK_PRODUCT") or "wrk-item"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local key = string.format("wrk-%d-%d-%d", tid, n, math.random(1, 1000000000))
  local body = string.format('{"userId":"u-%s","productId":"%s","quantity":1}', key, product)
  return wrk.format("POST", "/api/orders", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body)
end
