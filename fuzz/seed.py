"""Seeds the fuzz corpora from the conformance corpus: each case's request, answer and
stream, prefixed with its format's selector byte (the order of FORMATS in src/lib.rs).

Usage: python3 fuzz/seed.py OUT_DIR   (writes OUT_DIR/{request,response,stream,sse_framer}/)
"""
import hashlib
import json
import os
import sys

FORMATS = ["claude", "openai-chat", "openai-responses", "gemini"]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance", "cases")
out = sys.argv[1]
for target in ("request", "response", "stream", "sse_framer"):
    os.makedirs(os.path.join(out, target), exist_ok=True)


def put(target, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


count = 0
for file in sorted(os.listdir(root)):
    client, upstream = file[: -len(".json")].split("--")
    for case in json.load(open(os.path.join(root, file))):
        if "convert_request" in case:
            body = json.dumps(case["convert_request"]["body"]).encode()
            put("request", bytes([FORMATS.index(client)]) + body)
        if "convert_response" in case:
            body = json.dumps(case["convert_response"]).encode()
            put("response", bytes([FORMATS.index(upstream)]) + body)
        if "convert_stream" in case:
            text = case["convert_stream"]
            body = (text if isinstance(text, str) else json.dumps(text)).encode()
            # [format] [two cuts] [cuts] [stream]
            put("stream", bytes([FORMATS.index(upstream), 2, 7, 60]) + body)
            put("sse_framer", bytes([len(body) // 2 % 256]) + body)
        count += 1
print(f"{count} cases seeded into {out}")
