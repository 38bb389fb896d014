"""What one wrk run (with --latency) printed, for the bench scripts.

    from wrk_stats import parse
    s = parse("wrk.txt")   # s.rps, s.p50_ms, s.p99_ms, s.requests, s.non2xx, s.socket_errors
"""
import re
from dataclasses import dataclass


@dataclass
class WrkStats:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: str


def _ms(text, label):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\b" % re.escape(label), text, re.M)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def parse(path):
    t = open(path).read()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    sock = re.search(r"Socket errors: (.*)", t)
    return WrkStats(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
        p50_ms=_ms(t, "50%"),
        p99_ms=_ms(t, "99%"),
        requests=max(int(re.search(r"(\d+) requests in", t).group(1)), 1),
        non2xx=int(bad.group(1)) if bad else 0,
        socket_errors=sock.group(1).replace(" ", "") if sock else "",
    )
