-- An actual request from an origin the policy does not allow (forwarded, no CORS headers).
wrk.method = "GET"
wrk.path = "/api/items"
wrk.headers["Origin"] = "https://evil.example"
done = function(summary, latency, requests) report(summary, latency) end
