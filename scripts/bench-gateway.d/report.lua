-- One parseable line after a wrk run: requests, seconds, p50 and p99 in microseconds, and the
-- count of non-2xx/3xx answers and socket errors (both must be 0).
function report(summary, latency)
  local e = summary.errors
  io.write(string.format("RESULT %d %.6f %d %d %d %d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
