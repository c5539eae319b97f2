-- wrk script for beamgrid: POSTs and GETs per scenario, counts statuses.
--   wrk -s beamgrid.lua URL -- SCENARIO ID SALT
-- SCENARIO: hits (one grid, POST and GET of its id), new (a new lambda_A
-- every request), mixed (hits, new grids and bad requests: 400, 422),
-- soak (mixed plus large grids, 40 of them repeating, which a server with
-- a small --inline-max-kb computes on the executor and may shed: 503).
-- ID is the id of the "hits" grid (deploy/loadtest/wrk.sh fetches it).
-- done() prints p50/p95/p99, requests/s, status counts, "errors_5xx=N"
-- and "shed_503=N other_5xx=N".

local threads = {}
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  table.insert(threads, thread)
end

local scenario, id, salt
local counter = 0
statuses = {}  -- global: done() reads it from each thread
local hit_body = '{"divergence_mrad":0.5,"divsteps":9,"dispersion_percent":0.1,"dispsteps":3}'
local json = { ["Content-Type"] = "application/json" }

function init(args)
  scenario = args[1] or "hits"
  id = args[2] or ""
  salt = tonumber(args[3] or "0")
end

local function post(body)
  return wrk.format("POST", "/v1/sources", json, body)
end

local function new_grid()
  -- unique per (thread, counter, salt) within a run
  local k = (salt * 1000 + tid * 100000 + counter) % 1000000
  return post(string.format(
    '{"divergence_mrad":0.3,"divsteps":7,"dispersion_percent":0.2,"dispsteps":3,"lambda_A":%.7f}',
    0.5 + k * 1e-6))
end

local function large_grid()
  local k = (tid * 7 + counter) % 40
  return wrk.format("POST", "/v1/sources?format=bin", json, string.format(
    '{"divergence_mrad":1,"divsteps":400,"round_div":false,"lambda_A":%.2f}',
    1 + k * 0.01))
end

local function hit()
  local m = counter % 4
  if m == 0 or id == "" then return post(hit_body) end
  if m == 1 then return wrk.format("GET", "/v1/sources/" .. id) end
  if m == 2 then return wrk.format("GET", "/v1/sources/" .. id .. "?format=npy") end
  return wrk.format("GET", "/v1/sources/" .. id .. "?format=txt")
end

function request()
  counter = counter + 1
  if scenario == "new" then return new_grid() end
  if scenario == "soak" and counter % 20 == 11 then return large_grid() end
  if scenario == "mixed" or scenario == "soak" then
    local m = counter % 20
    if m >= 12 and m <= 15 then return new_grid() end
    if m == 16 or m == 17 then return post('{"divergence_mrad": 0.5, "divsteps": ') end
    if m == 18 then return post('{"divergence_mrad":0.5,"no_such_field":1}') end
    if m == 19 then return post('{"lambda_A":1.0,"energy_eV":9000}') end
  end
  return hit()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local codes = {}
  for code in pairs(counts) do table.insert(codes, code) end
  table.sort(codes)
  local line = "status counts:"
  local e5, shed = 0, 0
  for _, code in ipairs(codes) do
    line = line .. string.format(" %d:%d", code, counts[code])
    if code >= 500 then e5 = e5 + counts[code] end
    if code == 503 then shed = shed + counts[code] end
  end
  local secs = summary.duration / 1e6
  io.write(string.format("requests %d in %.2f s, %.1f requests/s\n",
    summary.requests, secs, summary.requests / secs))
  io.write(string.format("latency ms: p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(line .. "\n")
  local e = summary.errors
  io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("errors_5xx=%d errors_socket=%d\n", e5,
    e.connect + e.read + e.write + e.timeout))
  io.write(string.format("shed_503=%d other_5xx=%d\n", shed, e5 - shed))
end
