-- wrk script: a small non-streaming OpenAI Chat Completions request with the demo key.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-aether-demo"
wrk.body = '{"model":"mock-gpt","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
