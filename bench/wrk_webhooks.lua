-- wrk script for bench/webhooks.sh: replays signed WMS deliveries from a file written by
-- `storesync webhooks storm --emit FILE` (id TAB event TAB signature TAB body), each request a
-- new delivery until the file is used up (then they repeat, as duplicates).
-- usage: wrk ... -s bench/wrk_webhooks.lua URL -- FILE

local requests = {}
local n = 0
local i = 0

function init(args)
  local path = args[1]
  for line in io.lines(path) do
    local id, event, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if id then
      n = n + 1
      requests[n] = wrk.format("POST", "/webhooks/wms", {
        ["Content-Type"] = "application/json",
        ["X-Webhook-Id"] = id,
        ["X-Webhook-Event"] = event,
        ["X-Webhook-Signature"] = sig,
      }, body)
    end
  end
  if n == 0 then
    error("no deliveries in " .. tostring(path))
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return requests[i]
end

local non_200 = 0
function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
