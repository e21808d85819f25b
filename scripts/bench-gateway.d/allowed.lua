-- An actual request from an allowed origin.
wrk.method = "GET"
wrk.path = "/api/items"
wrk.headers["Origin"] = "https://myapp.example"
done = function(summary, latency, requests) report(summary, latency) end
