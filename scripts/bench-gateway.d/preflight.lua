-- An allowed preflight (answered by the gateway, never forwarded).
wrk.method = "OPTIONS"
wrk.path = "/api/items/1"
wrk.headers["Origin"] = "https://myapp.example"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type"
done = function(summary, latency, requests) report(summary, latency) end
