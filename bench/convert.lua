-- wrk script for bench/convert.sh: one request shape, chosen by environment variables.
--   CLIENT   claude | openai          the client's wire format
--   MODEL    mock-claude | mock-gpt | mock-gemini   which upstream (and so which format) serves it
--   STREAM   0 | 1
--   SCENARIO text | tool_call         the mock's answer
--   CHUNKS   number of streamed deltas
local client = os.getenv("CLIENT") or "openai"
local model = os.getenv("MODEL") or "mock-gpt"
local stream = os.getenv("STREAM") == "1"
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-mock-scenario"] = os.getenv("SCENARIO") or "text"
wrk.headers["x-mock-chunks"] = os.getenv("CHUNKS") or "20"
local tools_claude = '[{"name":"get_weather","description":"Weather in a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]'
local tools_openai = '[{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]'
if client == "claude" then
  wrk.headers["x-api-key"] = "sk-aether-demo"
  wrk.body = '{"model":"' .. model .. '","max_tokens":1024,"stream":' .. tostring(stream) ..
    ',"system":"You are terse.","tools":' .. tools_claude ..
    ',"messages":[{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}'
else
  wrk.headers["authorization"] = "Bearer sk-aether-demo"
  wrk.body = '{"model":"' .. model .. '","stream":' .. tostring(stream) ..
    ',"tools":' .. tools_openai ..
    ',"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}'
end
