-- wrk script: a streaming OpenAI Chat Completions request: 20 text events, then usage and [DONE].
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-aether-demo"
wrk.headers["x-mock-chunks"] = "20"
wrk.body = '{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
