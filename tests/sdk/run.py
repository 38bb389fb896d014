"""Drive the gateway with the official SDKs (openai, anthropic, google-genai) against the mock
upstream, streaming and not, and assert on what each SDK parsed.

The first checks use each SDK against an upstream of its own format (relayed untouched). The
cross-format checks, `<client>_client_vs_<upstream>_upstream_<kind>`, use each client (OpenAI
Chat, OpenAI Responses, Anthropic, Gemini) against the mock in each other format, so every
answer goes through two plugins: text and tool calls, streaming and not, a tool round trip
(the tool result sent back the SDK's own way) and the SDK's rate-limit error for a 429.

Usage: python3 tests/sdk/run.py path/to/aether

Starts `aether mock` and `aether serve` on free ports with a generated config, runs every
check, prints one line per check and a final 'N passed, N failed' line, and exits non-zero
if any check failed.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import anthropic
import openai
import pydantic

KEY = "sk-aether-demo"
KEY_SHA256 = "06631918ee659f7a10315e68bc948e0044ca7ff537adc8cb860b8e4ca79143f7"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, proc, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def config(mock_port, gw_port, admin_port, tmp):
    providers = [
        ("mock-claude", "claude"),
        ("mock-gpt", "openai-chat"),
        ("mock-responses", "openai-responses"),
        ("mock-gemini", "gemini"),
    ]
    out = [
        "[server]",
        f'listen = "127.0.0.1:{gw_port}"',
        "threads = 2",
        f'upgrade_sock = "{tmp}/upgrade.sock"',
        f'pid_file = "{tmp}/aether.pid"',
        "[admin]",
        f'listen = "127.0.0.1:{admin_port}"',
        "[telemetry]",
        f'url = "sqlite://{tmp}/usage.db"',
        "[circuit_breaker]",
        # The error checks send many 429s to each provider; keep the breaker from opening.
        "min_requests = 1000",
        "[[client_keys]]",
        'name = "demo"',
        f'key_sha256 = "{KEY_SHA256}"',
    ]
    for model, fmt in providers:
        out += [
            "[[providers]]",
            f'name = "{model}"',
            f'format = "{fmt}"',
            f'base_url = "http://127.0.0.1:{mock_port}"',
            f'models = {{ "{model}" = "{model}" }}',
            # The mock's 429s name no reset: do not rest the one key after each.
            'keys = [{ name = "k", api_key = "mock-key", limits = { cooldown_secs = 0 } }]',
        ]
    return "\n".join(out) + "\n"


def checks(base):
    from google import genai
    from google.genai import types

    oai = openai.OpenAI(api_key=KEY, base_url=f"{base}/v1", max_retries=0)
    ant = anthropic.Anthropic(api_key=KEY, base_url=base, max_retries=0)
    gem = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=base))
    msgs = [{"role": "user", "content": "Hello"}]

    def openai_chat():
        r = oai.chat.completions.create(model="mock-gpt", messages=msgs)
        assert r.model == "mock-gpt", r.model
        assert r.choices[0].message.content, r
        assert r.usage.prompt_tokens > 0

    def openai_chat_stream():
        text, usage = "", None
        stream = oai.chat.completions.create(
            model="mock-gpt", messages=msgs, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        assert text, "no text streamed"
        assert usage and usage.completion_tokens > 0, usage

    def openai_tool_call():
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
        r = oai.chat.completions.create(
            model="mock-gpt", messages=msgs, tools=tools, extra_headers={"x-mock-scenario": "tool_call"}
        )
        call = r.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather", call
        assert r.choices[0].finish_reason == "tool_calls"

    def openai_responses():
        r = oai.responses.create(model="mock-responses", input="Hello")
        assert r.output_text, r
        assert r.usage.input_tokens > 0

    def openai_responses_stream():
        kinds = []
        with oai.responses.stream(model="mock-responses", input="Hello") as s:
            for ev in s:
                strict(ev)
                kinds.append(ev.type)
            final = strict(s.get_final_response())
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
        assert final.output_text

    def openai_auth_error():
        bad = openai.OpenAI(api_key="sk-wrong", base_url=f"{base}/v1", max_retries=0)
        try:
            bad.chat.completions.create(model="mock-gpt", messages=msgs)
        except openai.AuthenticationError:
            return
        raise AssertionError("expected AuthenticationError")

    def anthropic_messages():
        r = ant.messages.create(model="mock-claude", max_tokens=64, messages=msgs)
        assert r.model == "mock-claude"
        assert r.content[0].type == "text" and r.content[0].text
        assert r.stop_reason == "end_turn"

    def anthropic_stream():
        with ant.messages.stream(model="mock-claude", max_tokens=64, messages=msgs) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        assert text and final.usage.output_tokens > 0, final

    def anthropic_tool_stream():
        tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
        with ant.messages.stream(
            model="mock-claude", max_tokens=64, messages=msgs, tools=tools,
            extra_headers={"x-mock-scenario": "tool_call"},
        ) as s:
            final = s.get_final_message()
        assert final.stop_reason == "tool_use", final.stop_reason
        tool = [b for b in final.content if b.type == "tool_use"][0]
        assert tool.input == {"city": "Paris"}, tool.input

    def anthropic_count_tokens():
        r = ant.messages.count_tokens(model="mock-claude", messages=msgs)
        assert r.input_tokens > 0

    def anthropic_auth_error():
        bad = anthropic.Anthropic(api_key="sk-wrong", base_url=base, max_retries=0)
        try:
            bad.messages.create(model="mock-claude", max_tokens=8, messages=msgs)
        except anthropic.AuthenticationError:
            return
        raise AssertionError("expected AuthenticationError")

    def gemini_generate():
        r = gem.models.generate_content(model="mock-gemini", contents="Hello")
        assert r.text, r
        assert r.usage_metadata.total_token_count > 0

    def gemini_stream():
        text = "".join(c.text or "" for c in gem.models.generate_content_stream(model="mock-gemini", contents="Hello"))
        assert text

    def gemini_count_tokens():
        r = gem.models.count_tokens(model="mock-gemini", contents="Hello there")
        assert r.total_tokens and r.total_tokens > 0, r

    def gemini_auth_error():
        bad = genai.Client(api_key="sk-wrong", http_options=types.HttpOptions(base_url=base))
        try:
            bad.models.generate_content(model="mock-gemini", contents="Hello")
        except genai.errors.ClientError as e:
            assert e.code == 401, e.code
            return
        raise AssertionError("expected ClientError 401")

    basic = [
        openai_chat, openai_chat_stream, openai_tool_call, openai_responses, openai_responses_stream,
        openai_auth_error, anthropic_messages, anthropic_stream, anthropic_tool_stream,
        anthropic_count_tokens, anthropic_auth_error, gemini_generate, gemini_stream, gemini_count_tokens, gemini_auth_error,
    ]
    return basic + cross_format_checks(oai, ant, gem)


# The model of each upstream format; the model name picks the provider, and so the format the
# gateway converts to.
UPSTREAMS = {
    "anthropic": "mock-claude",
    "openai_chat": "mock-gpt",
    "openai_responses": "mock-responses",
    "gemini": "mock-gemini",
}
TOOL_CALL = {"x-mock-scenario": "tool_call"}
RATE_LIMITED = {"x-mock-status": "429"}
WEATHER = {"city": "Paris"}
TOOL_RESULT = "Sunny, 21 degrees"
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def strict(obj, path="$"):
    """Assert that a model the `openai` or `anthropic` SDK built from the wire (without
    validating it) has every field its type requires, at every depth, and that it validates:
    the SDKs are lenient when parsing, so a missing field only breaks the caller who reads it."""
    _complete(obj, path)
    if isinstance(obj, pydantic.BaseModel):
        type(obj).model_validate(obj.model_dump(by_alias=True, warnings=False))
    return obj


def _complete(obj, path):
    if isinstance(obj, pydantic.BaseModel):
        fields = type(obj).model_fields
        for name, field in fields.items():
            if name in obj.model_fields_set:
                _complete(getattr(obj, name), f"{path}.{name}")
            elif field.is_required():
                raise AssertionError(f"{path}.{field.alias or name} is missing from {type(obj).__name__}")
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            _complete(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            _complete(item, f"{path}.{key}")


def expect_error(call, error_type, check=lambda e: None):
    try:
        call()
    except error_type as e:
        check(e)
        return
    raise AssertionError(f"expected {error_type.__name__}")


class OpenAIChatClient:
    """`openai` Chat Completions: create, create(stream=True) and the chat.completions.stream helper."""

    name = "openai_chat"
    # strict, so that the chat.completions.stream helper parses the arguments.
    tools = [{"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": CITY_SCHEMA}}]

    def __init__(self, oai):
        self.oai = oai

    def _usage(self, usage):
        assert usage, "no usage"
        assert usage.prompt_tokens > 0 and usage.completion_tokens > 0, usage
        assert usage.total_tokens >= usage.prompt_tokens + usage.completion_tokens, usage

    def text(self, model):
        r = strict(self.oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}]))
        assert r.model == model, r.model
        assert r.choices[0].message.role == "assistant"
        assert r.choices[0].message.content, r
        assert r.choices[0].finish_reason == "stop", r.choices[0].finish_reason
        self._usage(r.usage)

    def text_stream(self, model):
        text, finish, usage, ids = "", None, None, set()
        stream = self.oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello"}], stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            strict(chunk)
            ids.add(chunk.id)
            assert chunk.model == model, chunk.model
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                assert not chunk.choices, "usage chunk must have no choices"
                usage = chunk.usage
        assert text, "no text streamed"
        assert finish == "stop", finish
        assert len(ids) == 1, ids
        self._usage(usage)

    def _call(self, message, finish):
        assert finish == "tool_calls", finish
        assert message.tool_calls and len(message.tool_calls) == 1, message
        call = message.tool_calls[0]
        assert call.id and call.type == "function", call
        assert call.function.name == "get_weather", call
        assert json.loads(call.function.arguments) == WEATHER, call.function.arguments
        return call

    def _tool(self, model):
        r = strict(self.oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=self.tools,
            extra_headers=TOOL_CALL,
        ))
        self._usage(r.usage)
        return r.choices[0].message, self._call(r.choices[0].message, r.choices[0].finish_reason)

    def tool(self, model):
        self._tool(model)

    def tool_stream(self, model):
        done = []
        with self.oai.chat.completions.stream(
            model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=self.tools,
            stream_options={"include_usage": True}, extra_headers=TOOL_CALL,
        ) as s:
            for event in s:
                if event.type == "chunk":  # the other events and the snapshot are the helper's own
                    strict(event.chunk)
                if event.type == "tool_calls.function.arguments.done":
                    done.append(event)
            final = strict(s.get_final_completion())
        assert [e.name for e in done] == ["get_weather"], done
        assert done[0].parsed_arguments == WEATHER, done[0].parsed_arguments
        call = self._call(final.choices[0].message, final.choices[0].finish_reason)
        assert call.function.parsed_arguments == WEATHER, call.function
        self._usage(final.usage)

    def tool_round_trip(self, model):
        message, call = self._tool(model)
        messages = [
            {"role": "user", "content": "Weather in Paris?"},
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
        ]
        r = strict(self.oai.chat.completions.create(model=model, messages=messages, tools=self.tools))
        assert r.choices[0].message.content, r
        assert not r.choices[0].message.tool_calls, r
        assert r.choices[0].finish_reason == "stop", r.choices[0].finish_reason

    def rate_limit(self, model):
        expect_error(
            lambda: self.oai.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hello"}], extra_headers=RATE_LIMITED
            ),
            openai.RateLimitError, lambda e: _assert_eq(e.status_code, 429),
        )

    def rate_limit_stream(self, model):
        def call():
            for _ in self.oai.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hello"}], stream=True,
                extra_headers=RATE_LIMITED,
            ):
                pass
        expect_error(call, openai.RateLimitError, lambda e: _assert_eq(e.status_code, 429))


class OpenAIResponsesClient:
    """`openai` Responses: create and the responses.stream helper."""

    name = "openai_responses"
    tools = [{"type": "function", "name": "get_weather", "strict": True, "parameters": CITY_SCHEMA}]

    def __init__(self, oai):
        self.oai = oai

    def _usage(self, usage):
        assert usage, "no usage"
        assert usage.input_tokens > 0 and usage.output_tokens > 0, usage
        assert usage.total_tokens >= usage.input_tokens + usage.output_tokens, usage

    def text(self, model):
        r = strict(self.oai.responses.create(model=model, input="Hello"))
        assert r.model == model, r.model
        assert r.status == "completed", r.status
        assert r.output_text, r
        self._usage(r.usage)

    def text_stream(self, model):
        kinds, deltas = [], ""
        with self.oai.responses.stream(model=model, input="Hello") as s:
            for ev in s:
                strict(ev)
                kinds.append(ev.type)
                if ev.type == "response.output_text.delta":
                    deltas += ev.delta
            final = strict(s.get_final_response())
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
        assert final.status == "completed", final.status
        assert final.output_text and final.output_text == deltas, (final.output_text, deltas)
        assert final.model == model, final.model
        self._usage(final.usage)

    def _call(self, response):
        calls = [item for item in response.output if item.type == "function_call"]
        assert len(calls) == 1, response.output
        call = calls[0]
        assert call.call_id, call
        assert call.name == "get_weather", call
        assert json.loads(call.arguments) == WEATHER, call.arguments
        assert response.status == "completed", response.status
        self._usage(response.usage)
        return call

    def _tool(self, model):
        r = strict(self.oai.responses.create(
            model=model, input="Weather in Paris?", tools=self.tools, extra_headers=TOOL_CALL
        ))
        return r, self._call(r)

    def tool(self, model):
        self._tool(model)

    def tool_stream(self, model):
        kinds, done = [], []
        with self.oai.responses.stream(
            model=model, input="Weather in Paris?", tools=self.tools, extra_headers=TOOL_CALL
        ) as s:
            for ev in s:
                strict(ev)
                kinds.append(ev.type)
                if ev.type == "response.function_call_arguments.done":
                    done.append(ev)
            final = strict(s.get_final_response())
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
        assert len(done) == 1 and json.loads(done[0].arguments) == WEATHER, done
        call = self._call(final)
        assert call.parsed_arguments == WEATHER, call

    def tool_round_trip(self, model):
        first, call = self._tool(model)
        items = [{"role": "user", "content": "Weather in Paris?"}]
        items += [item.model_dump(exclude_none=True) for item in first.output]
        items.append({"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT})
        r = strict(self.oai.responses.create(model=model, input=items, tools=self.tools))
        assert r.status == "completed", r.status
        assert r.output_text, r
        assert not [item for item in r.output if item.type == "function_call"], r.output

    def rate_limit(self, model):
        expect_error(
            lambda: self.oai.responses.create(model=model, input="Hello", extra_headers=RATE_LIMITED),
            openai.RateLimitError, lambda e: _assert_eq(e.status_code, 429),
        )

    def rate_limit_stream(self, model):
        def call():
            with self.oai.responses.stream(model=model, input="Hello", extra_headers=RATE_LIMITED) as s:
                s.get_final_response()
        expect_error(call, openai.RateLimitError, lambda e: _assert_eq(e.status_code, 429))


class AnthropicClient:
    """`anthropic` Messages: create and the messages.stream helper."""

    name = "anthropic"
    tools = [{"name": "get_weather", "description": "The weather in a city", "input_schema": CITY_SCHEMA}]

    def __init__(self, ant):
        self.ant = ant

    def _usage(self, usage):
        assert usage.input_tokens > 0 and usage.output_tokens > 0, usage

    def _text(self, message, model):
        assert message.model == model, message.model
        assert message.role == "assistant" and message.type == "message", message
        assert message.stop_reason == "end_turn", message.stop_reason
        texts = [b for b in message.content if b.type == "text"]
        assert texts and texts[0].text, message.content
        self._usage(message.usage)

    def text(self, model):
        r = strict(self.ant.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]))
        self._text(r, model)

    def text_stream(self, model):
        with self.ant.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        ) as s:
            text = "".join(s.text_stream)
            final = strict(s.get_final_message())
        assert text, "no text streamed"
        self._text(final, model)
        assert final.content[0].text == text, (final.content, text)

    def _call(self, message):
        assert message.stop_reason == "tool_use", message.stop_reason
        calls = [b for b in message.content if b.type == "tool_use"]
        assert len(calls) == 1, message.content
        assert calls[0].id and calls[0].name == "get_weather", calls[0]
        assert calls[0].input == WEATHER, calls[0].input
        self._usage(message.usage)
        return calls[0]

    def _tool(self, model):
        r = strict(self.ant.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=self.tools, extra_headers=TOOL_CALL,
        ))
        return r, self._call(r)

    def tool(self, model):
        self._tool(model)

    def tool_stream(self, model):
        json_done = []
        with self.ant.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=self.tools, extra_headers=TOOL_CALL,
        ) as s:
            for event in s:
                strict(event)
                if event.type == "content_block_stop" and event.content_block.type == "tool_use":
                    json_done.append(event.content_block)
            final = strict(s.get_final_message())
        assert len(json_done) == 1 and json_done[0].input == WEATHER, json_done
        self._call(final)

    def tool_round_trip(self, model):
        first, call = self._tool(model)
        messages = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": TOOL_RESULT}]},
        ]
        r = strict(self.ant.messages.create(model=model, max_tokens=64, messages=messages, tools=self.tools))
        self._text(r, model)

    def rate_limit(self, model):
        expect_error(
            lambda: self.ant.messages.create(
                model=model, max_tokens=8, messages=[{"role": "user", "content": "Hello"}], extra_headers=RATE_LIMITED
            ),
            anthropic.RateLimitError, lambda e: _assert_eq(e.status_code, 429),
        )

    def rate_limit_stream(self, model):
        def call():
            with self.ant.messages.stream(
                model=model, max_tokens=8, messages=[{"role": "user", "content": "Hello"}], extra_headers=RATE_LIMITED
            ) as s:
                s.get_final_message()
        expect_error(call, anthropic.RateLimitError, lambda e: _assert_eq(e.status_code, 429))


class GeminiClient:
    """`google-genai`: generate_content and generate_content_stream."""

    name = "gemini"

    def __init__(self, gem):
        from google.genai import types

        self.gem, self.types = gem, types
        self.tools = [types.Tool(function_declarations=[types.FunctionDeclaration(
            name="get_weather", description="The weather in a city",
            parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        )])]

    def _config(self, headers=None, tools=False):
        types = self.types
        return types.GenerateContentConfig(
            tools=self.tools if tools else None,
            http_options=types.HttpOptions(headers=headers) if headers else None,
        )

    def _usage(self, usage):
        assert usage, "no usage_metadata"
        assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0, usage
        assert usage.total_token_count >= usage.prompt_token_count + usage.candidates_token_count, usage

    def _stop(self, response):
        assert response.candidates[0].finish_reason == self.types.FinishReason.STOP, response.candidates[0]

    def text(self, model):
        r = self.gem.models.generate_content(model=model, contents="Hello")
        assert r.text, r
        assert not r.function_calls, r
        assert r.model_version == model, r.model_version
        self._stop(r)
        self._usage(r.usage_metadata)

    def text_stream(self, model):
        chunks = list(self.gem.models.generate_content_stream(model=model, contents="Hello"))
        assert chunks, "no chunks"
        text = "".join(c.text or "" for c in chunks)
        assert text, "no text streamed"
        self._stop(chunks[-1])
        self._usage(chunks[-1].usage_metadata)
        assert all(c.model_version == model for c in chunks), [c.model_version for c in chunks]

    def _call(self, calls):
        assert len(calls) == 1, calls
        assert calls[0].name == "get_weather", calls[0]
        assert calls[0].args == WEATHER, calls[0].args
        return calls[0]

    def _tool(self, model):
        r = self.gem.models.generate_content(
            model=model, contents="Weather in Paris?", config=self._config(TOOL_CALL, tools=True)
        )
        self._stop(r)
        self._usage(r.usage_metadata)
        return r, self._call(r.function_calls or [])

    def tool(self, model):
        self._tool(model)

    def tool_stream(self, model):
        chunks = list(self.gem.models.generate_content_stream(
            model=model, contents="Weather in Paris?", config=self._config(TOOL_CALL, tools=True)
        ))
        self._call([call for c in chunks for call in (c.function_calls or [])])
        self._stop(chunks[-1])
        self._usage(chunks[-1].usage_metadata)

    def tool_round_trip(self, model):
        types = self.types
        first, call = self._tool(model)
        contents = [
            types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
            first.candidates[0].content,
            types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                id=call.id, name=call.name, response={"result": TOOL_RESULT},
            ))]),
        ]
        r = self.gem.models.generate_content(model=model, contents=contents, config=self._config(tools=True))
        assert r.text and not r.function_calls, r
        self._stop(r)

    def _is_429(self, e):
        assert e.code == 429, e.code
        assert e.status == "RESOURCE_EXHAUSTED", e.status

    def rate_limit(self, model):
        from google.genai import errors

        expect_error(
            lambda: self.gem.models.generate_content(model=model, contents="Hello", config=self._config(RATE_LIMITED)),
            errors.ClientError, self._is_429,
        )

    def rate_limit_stream(self, model):
        from google.genai import errors

        expect_error(
            lambda: list(self.gem.models.generate_content_stream(
                model=model, contents="Hello", config=self._config(RATE_LIMITED)
            )),
            errors.ClientError, self._is_429,
        )


def _assert_eq(got, want):
    assert got == want, f"{got!r} != {want!r}"


CROSS_KINDS = ["text", "text_stream", "tool", "tool_stream", "tool_round_trip", "rate_limit", "rate_limit_stream"]


def cross_format_checks(oai, ant, gem):
    """Every client SDK against the mock in every other format: `<client>_client_vs_<upstream>_upstream_<kind>`."""
    clients = [OpenAIChatClient(oai), OpenAIResponsesClient(oai), AnthropicClient(ant), GeminiClient(gem)]
    out = []
    for client in clients:
        for upstream, model in UPSTREAMS.items():
            if upstream == client.name:
                continue
            for kind in CROSS_KINDS:
                method = getattr(client, kind)

                def check(method=method, model=model):
                    method(model)

                check.__name__ = f"{client.name}_client_vs_{upstream}_upstream_{kind}"
                out.append(check)
    return out


def main():
    binary = sys.argv[1]
    mock_port, gw_port, admin_port = free_port(), free_port(), free_port()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "aether.toml")
        with open(path, "w") as f:
            f.write(config(mock_port, gw_port, admin_port, tmp))
        try:
            mock = subprocess.Popen([binary, "mock", "--listen", f"127.0.0.1:{mock_port}"])
            procs.append(mock)
            gw = subprocess.Popen([binary, "serve", "--config", path], env={**os.environ, "RUST_LOG": "warn"})
            procs.append(gw)
            wait_until_up(f"http://127.0.0.1:{admin_port}/healthz", gw)
            base = f"http://127.0.0.1:{gw_port}"
            passed = failed = 0
            for check in checks(base):
                try:
                    check()
                    print(f"sdk {check.__name__} ... ok")
                    passed += 1
                except Exception:
                    print(f"sdk {check.__name__} ... FAILED")
                    traceback.print_exc()
                    failed += 1
            print(f"sdk: {passed} passed, {failed} failed")
            return 1 if failed else 0
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    sys.exit(main())
