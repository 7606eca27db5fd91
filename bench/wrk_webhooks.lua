-- wrk script for bench/webhooks.sh: replays signed WMS deliveries from a file written by
-- `storesync webhooks storm --emit FILE` (id TAB event TAB signature TAB body), each request a
-- new delivery until the file is used up (then they repeat, as duplicates). With THREADS
-- (wrk's -t), thread k sends lines k, k + THREADS, … only: no two threads send one delivery.
-- (wrk starts its clock once every thread has run `init`, and a thread starts sending as soon
-- as its own `init` is done: with -tN the early threads' first seconds are counted but not
-- timed. Compare runs of two lengths, or use -t1 as bench/webhooks.sh does.)
-- No `response` function: with one, wrk hands every answer's headers and body to Lua, which
-- costs the load generator (the bottleneck with -t1) more than some handlers do; a status
-- other than 2xx/3xx is counted in `errors` all the same.
-- usage: wrk -tTHREADS ... -s bench/wrk_webhooks.lua URL -- FILE [THREADS]

local requests = {}
local n = 0
local i = 0
local threads = 0

-- Runs in the main state once per thread, before that thread's `init`.
function setup(thread)
  thread:set("part", threads)
  threads = threads + 1
end

function init(args)
  local path = args[1]
  local parts = tonumber(args[2]) or 1
  local line_no = -1
  for line in io.lines(path) do
    line_no = line_no + 1
    if line_no % parts == part then
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
  end
  if n == 0 then
    error("no deliveries in " .. tostring(path) .. " for thread " .. tostring(part) .. " of " .. parts)
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return requests[i]
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
