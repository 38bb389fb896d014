-- wrk script: long-lived streams (40 events, 250 ms apart: ~10 s each) to hold many
-- streams open at once while the gateway's memory is sampled.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-aether-demo"
wrk.headers["x-mock-chunks"] = "40"
wrk.headers["x-mock-interval-ms"] = "250"
wrk.body = '{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"Tell me a long story."}]}'
