-- Shared by the bench scripts: numbers each thread (thread_id 0..T-1) and, when wrk is done,
-- prints one machine-readable line for bench/run.py:
--   BENCH_JSON {"requests":..,"rps":..,"p50_ms":..,"p99_ms":..,"non2xx":..,"used":[..],...}
-- non2xx is wrk's status error count (responses with a status above 399). "used" is how many
-- requests each thread built (tokens.lua), "wraps" how often a thread ran past the end of its
-- token list and started re-sending tokens it had already sent.
threads_list = {}

function setup(thread)
  thread:set("thread_id", #threads_list)
  table.insert(threads_list, thread)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local wraps, used = 0, {}
  for _, t in ipairs(threads_list) do
    wraps = wraps + (t:get("wraps") or 0)
    used[#used + 1] = tostring(t:get("used") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
    '"max_ms":%.3f,"non2xx":%d,"connect_err":%d,"read_err":%d,"write_err":%d,"timeouts":%d,' ..
    '"wraps":%d,"used":[%s]}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout, wraps, table.concat(used, ",")))
end
