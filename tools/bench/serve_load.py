#!/usr/bin/env python3
"""A bounded load test of `simply serve` on loopback.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install openai==3.63.0
    /tmp/venv/bin/python tools/bench/serve_load.py PATH/TO/simply RUN_OR_CHECKPOINT [--seconds 20] [--load_seconds 30]

Starts the server (64 concurrent sequences) and runs five phases, each a
fixed number of clients that send completions back to back (max_tokens 64,
ignore_eos, every request its own seed) until the phase's time is up:

  1 and 8 clients asking for whole answers, then 1 and 8 clients streaming
  (`--seconds` each), then 64 streaming clients (`--load_seconds`).

Per phase it reports requests, errors, completion tokens, the aggregate
decode throughput (completion tokens per second of the phase), and the
percentiles of request latency, time to first token and time between
tokens (streamed phases). It checks that no request failed and that 8
clients decode at least 4x the tokens per second of one (whole answers: a
streamed token costs the Python client, which shares the machine's two
cores with the server, more than it costs the server); exits 1 otherwise.
"""
import argparse
import asyncio
import json
import os
import platform
import sys
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serve"))
from server_process import ServerProcess  # noqa: E402


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


async def client_loop(http, url, model, deadline, index, stats, max_tokens, stream):
    n = 0
    while time.perf_counter() < deadline:
        body = {"model": model, "prompt": f"Client {index} asks question {n}: what is", "max_tokens": max_tokens,
                "seed": index * 100_000 + n, "ignore_eos": True}
        if stream:
            body.update({"stream": True, "stream_options": {"include_usage": True}})
        n += 1
        start = time.perf_counter()
        first, last, gaps, usage = None, None, [], None
        if not stream:
            try:
                r = await http.post(url, json=body)
                if r.status_code != 200:
                    stats["errors"].append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
                usage = r.json()["usage"]
            except Exception as e:  # noqa: BLE001
                stats["errors"].append(f"{type(e).__name__}: {e}")
                continue
            stats["tokens"] += usage["completion_tokens"]
            stats["latency"].append(time.perf_counter() - start)
            stats["requests"] += 1
            continue
        try:
            async with http.stream("POST", url, json=body) as r:
                if r.status_code != 200:
                    await r.aread()
                    stats["errors"].append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
                async for line in r.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    now = time.perf_counter()
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    if '"usage"' in data:
                        usage = json.loads(data)["usage"]
                        continue
                    if first is None:
                        first = now
                    elif last is not None:
                        gaps.append(now - last)
                    last = now
        except Exception as e:  # noqa: BLE001
            stats["errors"].append(f"{type(e).__name__}: {e}")
            continue
        end = time.perf_counter()
        if usage is None:
            stats["errors"].append("no usage chunk")
            continue
        stats["tokens"] += usage["completion_tokens"]
        stats["latency"].append(end - start)
        stats["ttft"].append((first or end) - start)
        stats["itl"].extend(gaps)
        stats["requests"] += 1


async def phase(url, model, clients, seconds, max_tokens, stream):
    stats = {"requests": 0, "tokens": 0, "errors": [], "latency": [], "ttft": [], "itl": []}
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0), limits=limits) as http:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(client_loop(http, url, model, deadline, i, stats, max_tokens, stream) for i in range(clients)))
        stats["wall"] = time.perf_counter() - start
    stats["throughput"] = stats["tokens"] / stats["wall"]
    return stats


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            info = {}
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    info.setdefault(k.strip(), v.strip())
                if not line.strip() and info:
                    break
        flags = info.get("flags", "").split()
        return (f"{info.get('model name', platform.processor())} (family {info.get('cpu family')} model {info.get('model')}, "
                f"{'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}), {os.cpu_count()} cores")
    except OSError:
        return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("simply")
    ap.add_argument("checkpoint")
    ap.add_argument("--seconds", type=float, default=20, help="length of the 1- and 8-client phases")
    ap.add_argument("--load_seconds", type=float, default=30, help="length of the 64-client phase")
    ap.add_argument("--max_tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="the server's --threads")
    args = ap.parse_args()
    extra = ["--max_sequences", "64"] + (["--threads", str(args.threads)] if args.threads else [])
    with ServerProcess(args.simply, args.checkpoint, *extra) as server:
        with httpx.Client() as h:
            model = h.get(server.base_url + "/models").json()["data"][0]["id"]
        url = server.base_url + "/completions"
        print(f"simply serve load test, {time.strftime('%Y-%m-%d')}, model {model}, CPU {cpu_name()}")
        print(f"streamed completions, max_tokens {args.max_tokens}, ignore_eos; clients send back to back\n")
        header = (f"{'clients':>7} {'mode':>6} {'seconds':>7} {'requests':>8} {'errors':>6} {'tokens':>7} {'tok/s':>7} "
                  f"{'lat p50':>8} {'p90':>6} {'p99':>6} {'ttft p50':>8} {'p99':>6} {'itl p50':>8} {'p99':>6}")
        print(header)
        results = {}
        phases = [(1, False, args.seconds), (8, False, args.seconds), (1, True, args.seconds), (8, True, args.seconds),
                  (64, True, args.load_seconds)]
        for clients, stream, seconds in phases:
            s = asyncio.run(phase(url, model, clients, seconds, args.max_tokens, stream))
            results[(clients, stream)] = s
            ms = lambda x: f"{1000 * x:.0f}" if x == x else "-"  # noqa: E731
            print(f"{clients:>7} {'stream' if stream else 'whole':>6} {s['wall']:>7.1f} {s['requests']:>8} {len(s['errors']):>6} "
                  f"{s['tokens']:>7} {s['throughput']:>7.1f} {ms(percentile(s['latency'], 50)):>8} "
                  f"{ms(percentile(s['latency'], 90)):>6} {ms(percentile(s['latency'], 99)):>6} "
                  f"{ms(percentile(s['ttft'], 50)):>8} {ms(percentile(s['ttft'], 99)):>6} "
                  f"{ms(percentile(s['itl'], 50)):>8} {ms(percentile(s['itl'], 99)):>6}", flush=True)
        code = server.stop()
    print("\n(latencies in ms: request, time to first token, inter-token)")
    errors = sum(len(s["errors"]) for s in results.values())
    ratio = results[(8, False)]["throughput"] / results[(1, False)]["throughput"]
    streamed = results[(8, True)]["throughput"] / results[(1, True)]["throughput"]
    print(f"errors: {errors}" + (f" (first: {next(e for s in results.values() for e in s['errors'])})" if errors else ""))
    print(f"8 clients / 1 client decode throughput: {ratio:.2f}x whole answers (target >= 4x), {streamed:.2f}x streamed")
    print(f"server exit code after SIGTERM: {code}")
    ok = errors == 0 and ratio >= 4 and code == 0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
