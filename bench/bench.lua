-- wrk script for bench/run.py. BENCH_MODE: healthz | search | chart; BENCH_DATA: a Lua file
-- written by run.py returning { csrf, cookies = {...}, queries = {...}, first_id, last_id }.
-- Prints one line "BENCH_RESULT {json}" from done(), which run.py parses.

local mode = os.getenv("BENCH_MODE") or "healthz"
local data = dofile(os.getenv("BENCH_DATA"))
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_id)
  not_ok = 0 -- responses other than 200 (wrk itself counts only status >= 400)
end

function request()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz")
  end
  -- Each request comes from one of many signed-in staff sessions, as in a busy clinic.
  local headers = { ["Cookie"] = data.cookies[math.random(#data.cookies)] }
  if mode == "search" then
    -- As-you-type search is an htmx POST answered with the results fragment.
    headers["X-CSRFToken"] = data.csrf
    headers["HX-Request"] = "true"
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", "/patients/search/", headers, data.queries[math.random(#data.queries)])
  end
  return wrk.format("GET", "/patients/" .. math.random(data.first_id, data.last_id) .. "/", headers)
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local not_ok_total = 0
  for _, thread in ipairs(threads) do
    not_ok_total = not_ok_total + thread:get("not_ok")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "not_ok": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, not_ok_total, e.connect, e.read, e.write, e.timeout
  ))
end
