-- The launch surge for wrk: each connection is one client at a time registering, adding a member,
-- topping up and joining a plan, then starting over as the next client.
--
--   wrk -t64 -c64 -d60s --timeout 10s -s benchmarks/surge.lua http://127.0.0.1:8000 -- comprehensive-accident
--
-- Run it with as many threads as connections (-t = -c): each wrk thread then owns one
-- connection, so its requests and responses alternate and the steps of a flow stay in order.
-- Logins and ID numbers are unique per thread, flow and offset (the second script argument; keep
-- offset + 200000 * threads below 10,000,000 so that birth dates stay in the past).

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_no", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local WEIGHTS = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 }
local CHECK = { "1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2" }
local DAY0 = os.time({ year = 1970, month = 1, day = 1, hour = 12 })

-- A valid 18-character resident ID (GB 11643, ISO 7064 MOD 11-2) unique for n.
local function resident_id(n)
  local birth = os.date("!%Y%m%d", DAY0 + math.floor(n / 1000) * 86400)
  local body = "110101" .. birth .. string.format("%03d", n % 1000)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(body:sub(i, i)) * WEIGHTS[i]
  end
  return body .. CHECK[sum % 11 + 1]
end

local plan, offset, step, n, serial, token, member, key_no
flows, errors, first_error = 0, 0, ""

function init(args)
  plan = args[1] or "comprehensive-accident"
  offset = tonumber(args[2] or "0")  -- another run on the same database: a different offset
  step, serial, key_no = 0, 0, 0
end

local function next_client()
  serial = serial + 1
  n = offset + thread_no * 200000 + serial
  step = 0
end

local function post(path, body, extra)
  local headers = { ["Content-Type"] = "application/json" }
  if token then headers["Authorization"] = "Bearer " .. token end
  if extra then
    key_no = key_no + 1
    headers["Idempotency-Key"] = string.format("surge-%d-%d-%d", offset, thread_no, key_no)
  end
  return wrk.format("POST", path, headers, body)
end

function request()
  if n == nil then next_client() end
  if step == 0 then
    token = nil
    return post("/api/v1/auth/register", string.format(
      '{"login":"17%09d","password":"surge-pass-2016","display_name":"会员%d"}', n, n))
  elseif step == 1 then
    return post("/api/v1/members", string.format('{"name":"会员%d","id_number":"%s"}', n, resident_id(n)))
  elseif step == 2 then
    return post("/api/v1/members/" .. member .. "/top-ups", '{"amount":"9.00"}', true)
  else
    return post("/api/v1/members/" .. member .. "/enrollments", '{"plan_code":"' .. plan .. '"}', true)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    errors = errors + 1
    if first_error == "" then first_error = status .. " at step " .. step .. ": " .. body:sub(1, 200) end
    next_client()
    return
  end
  if step == 0 then
    token = body:match('"access_token"%s*:%s*"([^"]+)"')
  elseif step == 1 then
    member = body:match('"id"%s*:%s*(%d+)')
  end
  if step == 3 then
    flows = flows + 1
    next_client()
  else
    step = step + 1
  end
end

function done(summary, latency, requests)
  local total_flows, total_errors, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_flows = total_flows + thread:get("flows")
    total_errors = total_errors + thread:get("errors")
    local e = thread:get("first_error")
    if sample == "" and e ~= "" then sample = e end
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("SURGE flows=%d seconds=%.2f errors=%d socket_errors=%d requests=%d\n",
    total_flows, seconds, total_errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
  io.write(string.format("SURGE latency_ms p50=%.1f p90=%.1f p99=%.1f max=%.1f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
  if sample ~= "" then io.write("SURGE first_error " .. sample .. "\n") end
end
