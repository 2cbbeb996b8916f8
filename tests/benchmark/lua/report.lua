-- wrk's done() hook: one machine-readable line, so the runner never parses wrk's human summary.
-- summary.errors.status counts answers with a status of 400 or more: none of the benchmarked routes
-- answers 1xx or 3xx, so for them it is the non-2xx count.
function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "timeouts": %d, '
         .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
         .. '"p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, errors.status, errors.timeout,
      errors.connect, errors.read, errors.write,
      latency:percentile(50), latency:percentile(99)
   ))
end
