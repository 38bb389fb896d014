"""Client-side time between stream events, for bench/convert.sh.

Usage: stream-gap.py URL PATH CLIENT MODEL STREAMS CHUNKS INTERVAL_MS
Opens STREAMS streams one after another, each of CHUNKS text deltas sent by the mock
INTERVAL_MS apart, and prints the mean gap between consecutive events as the client sees
them, in milliseconds (the first event of each stream excluded).
"""

import http.client
import json
import sys
import time
import urllib.parse

url, path, client, model, streams, chunks, interval = sys.argv[1:8]
host = urllib.parse.urlparse(url)
headers = {"content-type": "application/json", "x-mock-chunks": chunks, "x-mock-interval-ms": interval}
if client == "claude":
    headers["x-api-key"] = "sk-aether-demo"
    body = {"model": model, "max_tokens": 1024, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
else:
    headers["authorization"] = "Bearer sk-aether-demo"
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
gaps = []
for _ in range(int(streams)):
    conn = http.client.HTTPConnection(host.hostname, host.port)
    conn.request("POST", path, json.dumps(body), headers)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    buf, last = b"", None
    while True:
        data = resp.read1(65536)
        if not data:
            break
        now = time.perf_counter()
        buf += data
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            if b"delta" in event:  # text deltas only: the ones the mock paces
                if last is not None:
                    gaps.append(now - last)
                last = now
    conn.close()
print(f"{1000 * sum(gaps) / max(len(gaps), 1):.3f}")
