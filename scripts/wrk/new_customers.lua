-- wrk script: one POST per request, each from a customer never seen before (bench-wrk.sh).
-- WRK_KIND=orders (default): POST /api/orders of WRK_PRODUCT (default `wrk-item`) with a
--   unique Idempotency-Key: accepted while stock lasts, a sold-out refusal after (the
--   sold-out phases use a product with none).
-- WRK_KIND=join: POST /api/products/WRK_PRODUCT/queue (default `wrk-line`): every request
--   is a first join of the waiting room's line (#14).
-- WRK_KIND=rejoin: the same, but always as one customer: after the first, every request is a
--   re-join answered with the ticket held (its signature checked; nothing signed, recorded or
--   written), which tells a join's own work from the rest of its request (bench-compare.sh;
--   the server needs --join-rate-per-customer 0).
-- WRK_CUSTOMER=email: orders come from `customer.email` instead of `userId`, so each accepted
--   one has a receipt for the relay to deliver (to the dev mailbox when no mail server is set).
local kind = os.getenv("WRK_KIND") or "orders"
local by_email = os.getenv("WRK_CUSTOMER") == "email"
local joining = kind == "join" or kind == "rejoin"
local product = os.getenv("WRK_PRODUCT") or (joining and "wrk-line" or "wrk-item")
-- Each wrk run's customers and keys must be new: Lua's generator and these counters start
-- the same in every run, so without this a later phase would send an earlier one's, and a
-- "refusal" would be an idempotent replay looked up in the database, a "join" a re-join
-- answered with the ticket held (bench-wrk.sh sets WRK_RUN).
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
  if joining then
    local body = kind == "rejoin" and string.format('{"userId":"r-%s"}', run) or string.format('{"userId":"j-%s"}', key)
    return wrk.format("POST", "/api/products/" .. product .. "/queue", { ["Content-Type"] = "application/json" }, body)
  end
  local body
  if by_email then
    body = string.format('{"customer":{"email":"%s@example.com"},"productId":"%s","quantity":1}', key, product)
  else
    body = string.format('{"userId":"u-%s","productId":"%s","quantity":1}', key, product)
  end
  return wrk.format("POST", "/api/orders", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body)
end
