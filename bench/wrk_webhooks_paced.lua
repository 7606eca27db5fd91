-- wrk script for bench/webhooks.sh's paced run: bench/wrk_webhooks.lua, with each connection
-- waiting DELAY_MS after an answer before its next request, for an offered rate of about
-- connections × 1000 / DELAY_MS requests a second (the saturation runs use the plain script:
-- a script with a delay function costs wrk a timer per request even at 0 ms).
-- usage: wrk ... -s bench/wrk_webhooks_paced.lua URL -- FILE THREADS DELAY_MS

dofile("bench/wrk_webhooks.lua")

local base_init = init
local pause = 0

function init(args)
  base_init(args)
  pause = tonumber(args[3]) or error("usage: -- FILE THREADS DELAY_MS")
end

function delay()
  return pause
end
