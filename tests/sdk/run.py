"""Drive the gateway with the official SDKs (openai, anthropic, google-genai) against the mock
upstream, streaming and not, and assert on what each SDK parsed.

Usage: python3 tests/sdk/run.py path/to/aether

Starts `aether mock` and `aether serve` on free ports with a generated config, runs every
check, prints one line per check and a final 'N passed, N failed' line, and exits non-zero
if any check failed.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

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
            'keys = [{ name = "k", api_key = "mock-key" }]',
        ]
    return "\n".join(out) + "\n"


def checks(base):
    import anthropic
    import openai
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
                kinds.append(ev.type)
            final = s.get_final_response()
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

    return [
        openai_chat, openai_chat_stream, openai_tool_call, openai_responses, openai_responses_stream,
        openai_auth_error, anthropic_messages, anthropic_stream, anthropic_tool_stream,
        anthropic_count_tokens, anthropic_auth_error, gemini_generate, gemini_stream, gemini_count_tokens, gemini_auth_error,
    ]


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
