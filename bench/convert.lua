-- wrk script for bench/convert.sh: one request shape, chosen by environment variables.
--   CLIENT   claude | openai | gemini | responses   the client's wire format (gemini and
--            responses set their own path)
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
--   TOOLS    number of tools (default 1; 20 is a Claude Code–like tool list, each with a
--            schema of nested properties, about 20 KB of tools in all)
local tool_count = tonumber(os.getenv("TOOLS") or "1")
local weather = '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}'
local rich = '{"type":"object","properties":{"path":{"type":"string","description":"The absolute path of the file to work on; it must exist unless the operation creates it"},' ..
  '"offset":{"type":"integer","description":"The line to start at, for files too large to read at once"},"limit":{"type":"integer","description":"How many lines to read"},' ..
  '"edits":{"type":"array","items":{"type":"object","properties":{"old_string":{"type":"string","description":"The text to replace, exactly as it appears"},' ..
  '"new_string":{"type":"string","description":"The text to replace it with"},"replace_all":{"type":"boolean","default":false}},"required":["old_string","new_string"],"additionalProperties":false}},' ..
  '"mode":{"type":"string","enum":["read","write","append","patch"]}},"required":["path"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}'
local claude_list, openai_list, gemini_list, responses_list = {}, {}, {}, {}
for i = 1, tool_count do
  local name, desc, schema = "get_weather", "Weather in a city", weather
  if i > 1 then
    name = "tool_" .. i
    desc = "Reads, writes or patches a file in the workspace. Use it instead of shell commands for file operations; paths must be absolute. Tool number " .. i .. "."
    schema = rich
  end
  claude_list[i] = '{"name":"' .. name .. '","description":"' .. desc .. '","input_schema":' .. schema .. '}'
  openai_list[i] = '{"type":"function","function":{"name":"' .. name .. '","description":"' .. desc .. '","parameters":' .. schema .. '}}'
  responses_list[i] = '{"type":"function","name":"' .. name .. '","description":"' .. desc .. '","parameters":' .. schema .. '}'
  gemini_list[i] = '{"name":"' .. name .. '","description":"' .. desc .. '","parametersJsonSchema":' .. schema .. '}'
end
local tools_claude = '[' .. table.concat(claude_list, ",") .. ']'
local tools_openai = '[' .. table.concat(openai_list, ",") .. ']'
if client == "claude" then
  wrk.headers["x-api-key"] = "sk-aether-demo"
  wrk.body = '{"model":"' .. model .. '","max_tokens":1024,"stream":' .. tostring(stream) ..
    ',"system":"You are terse.","tools":' .. tools_claude ..
    ',"messages":[{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}'
elseif client == "responses" then
  wrk.headers["authorization"] = "Bearer sk-aether-demo"
  wrk.path = "/v1/responses"
  wrk.body = '{"model":"' .. model .. '","stream":' .. tostring(stream) .. ',"instructions":"You are terse.","tools":[' ..
    table.concat(responses_list, ",") .. '],"input":[{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}'
elseif client == "gemini" then
  wrk.headers["x-goog-api-key"] = "sk-aether-demo"
  wrk.path = "/v1beta/models/" .. model .. (stream and ":streamGenerateContent?alt=sse" or ":generateContent")
  wrk.body = '{"systemInstruction":{"parts":[{"text":"You are terse."}]},"tools":[{"functionDeclarations":[' ..
    table.concat(gemini_list, ",") .. ']}],"contents":[{"role":"user","parts":[{"text":"What is the weather in Paris? Say hello in one short sentence."}]}]}'
else
  wrk.headers["authorization"] = "Bearer sk-aether-demo"
  wrk.body = '{"model":"' .. model .. '","stream":' .. tostring(stream) ..
    ',"tools":' .. tools_openai ..
    ',"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}'
end
