#!/usr/bin/env python3
"""`simply serve` driven by the official `openai` Python client.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install openai==3.63.0
    /tmp/venv/bin/python tools/serve/openai_client_test.py PATH/TO/simply RUN_OR_CHECKPOINT

Starts the server on a free port and checks, through `openai.OpenAI`:

- models.list names the served model; chat and completions answer with
  text, usage, finish_reason, the seed and the system_fingerprint;
- streaming (`stream=True`) deltas add up to the whole answer for the
  same seed, with the usage chunk of stream_options.include_usage;
- logprobs (chat logprobs/top_logprobs, completions logprobs), n, stop;
- errors arrive as the client's own exceptions with the field named:
  NotFoundError for an unknown model, BadRequestError for a negative
  temperature, max_tokens beyond the context, a prompt longer than the
  context, malformed JSON;
- batch-invariance: 32 seeded requests sent at once get byte-identical
  completions to the same 32 sent one at a time;
- a client that disconnects mid-stream frees its slot (/health);
- SIGTERM finishes a running stream, refuses new connections, exits 0.

Prints one line per check; exits 1 on any failure.
"""
import concurrent.futures
import json
import socket
import sys
import time
import urllib.request

import openai

sys.path.insert(0, __import__("os").path.dirname(__file__))
from server_process import ServerProcess  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def expect_error(name, cls, param, call):
    try:
        call()
    except cls as e:
        body = e.body if isinstance(e.body, dict) else {}
        check(name, body.get("param") == param and bool(body.get("message")), f"body {e.body}")
        return
    except Exception as e:  # noqa: BLE001
        check(name, False, f"raised {type(e).__name__}: {e}")
        return
    check(name, False, "no error")


def health(root):
    with urllib.request.urlopen(root + "/health", timeout=10) as r:
        return json.load(r)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    simply, checkpoint = sys.argv[1], sys.argv[2]
    with ServerProcess(simply, checkpoint, "--max_sequences", "32") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=120)
        models = client.models.list().data
        check("models.list names one model", len(models) == 1, str(models))
        model = models[0].id
        context = health(server.root)
        messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Tell me a story."}]

        # Chat, whole and streamed.
        whole = client.chat.completions.create(model=model, messages=messages, max_tokens=24, seed=11, temperature=0.8)
        c = whole.choices[0]
        check("chat answers", whole.object == "chat.completion" and isinstance(c.message.content, str)
              and c.message.role == "assistant" and c.finish_reason in ("stop", "length"), str(whole))
        check("chat usage counts", whole.usage.completion_tokens >= 1 and whole.usage.prompt_tokens >= 1
              and whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens, str(whole.usage))
        check("system_fingerprint names the state hash",
              whole.system_fingerprint == context["system_fingerprint"] and len(whole.system_fingerprint) == 7 + 64)
        check("the seed comes back", (whole.model_extra or {}).get("seed") == 11)
        unseeded = client.chat.completions.create(model=model, messages=messages, max_tokens=4)
        drawn = (unseeded.model_extra or {}).get("seed")
        again = client.chat.completions.create(model=model, messages=messages, max_tokens=4, seed=drawn)
        check("an unseeded request returns the seed it drew, which reproduces it",
              isinstance(drawn, int) and again.choices[0].message.content == unseeded.choices[0].message.content)

        stream = client.chat.completions.create(model=model, messages=messages, max_tokens=24, seed=11, temperature=0.8,
                                                stream=True, stream_options={"include_usage": True})
        text, finish, usage, chunks = "", None, None, 0
        for chunk in stream:
            chunks += 1
            if chunk.usage:
                usage = chunk.usage
            for ch in chunk.choices:
                text += ch.delta.content or ""
                finish = ch.finish_reason or finish
        check("streamed deltas add up to the whole answer", text == c.message.content and finish == c.finish_reason,
              f"{text!r} vs {c.message.content!r}")
        check("the stream arrives in pieces", chunks >= 3, f"{chunks} chunks")
        check("include_usage sends the usage", usage is not None and usage.completion_tokens == whole.usage.completion_tokens)

        # Log-probabilities and n.
        lp = client.chat.completions.create(model=model, messages=messages, max_tokens=6, seed=3, logprobs=True,
                                            top_logprobs=3, n=3)
        check("n gives n choices", [ch.index for ch in lp.choices] == [0, 1, 2])
        content = lp.choices[0].logprobs.content
        check("chat logprobs: one per token, 3 alternatives, the best first",
              len(content) == len(lp.choices[0].logprobs.content) and all(len(t.top_logprobs) == 3 for t in content)
              and all(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob for t in content)
              and all(t.logprob <= 0 for t in content))
        comp = client.completions.create(model=model, prompt="Once upon a time", max_tokens=8, seed=5, logprobs=2,
                                         extra_body={"ignore_eos": True})
        lc = comp.choices[0].logprobs
        check("completion logprobs columns",
              len(lc.tokens) == len(lc.token_logprobs) == len(lc.top_logprobs) == len(lc.text_offset) == 8
              and comp.usage.completion_tokens == 8 and comp.choices[0].finish_reason == "length", str(lc))

        # Stop strings: cut a free completion at a piece of itself.
        free = client.completions.create(model=model, prompt="The", max_tokens=30, seed=9,
                                         extra_body={"ignore_eos": True}).choices[0].text
        if len(free) >= 8:
            stop = free[5:7]
            cut = client.completions.create(model=model, prompt="The", max_tokens=30, seed=9, stop=["@@@", stop],
                                            extra_body={"ignore_eos": True}).choices[0]
            check("stop cuts before the stop string", cut.text == free[:free.index(stop)] and cut.finish_reason == "stop",
                  f"{cut.text!r} / {free!r} / {stop!r}")
            streamed = "".join(ch.choices[0].text for ch in client.completions.create(
                model=model, prompt="The", max_tokens=30, seed=9, stop=["@@@", stop], stream=True,
                extra_body={"ignore_eos": True}) if ch.choices)
            check("a stream never shows the stop string", streamed == cut.text, f"{streamed!r}")
        else:
            check("a free completion long enough to cut", False, repr(free))

        # Errors, as the client's exceptions.
        expect_error("unknown model: NotFoundError naming model", openai.NotFoundError, "model",
                     lambda: client.chat.completions.create(model="no-such-model", messages=messages))
        expect_error("negative temperature: BadRequestError naming temperature", openai.BadRequestError, "temperature",
                     lambda: client.chat.completions.create(model=model, messages=messages, temperature=-1))
        expect_error("max_tokens beyond the context", openai.BadRequestError, "max_tokens",
                     lambda: client.chat.completions.create(model=model, messages=messages, max_tokens=10**6))
        expect_error("a prompt longer than the context", openai.BadRequestError, "prompt",
                     lambda: client.completions.create(model=model, prompt="word " * 5000))
        expect_error("a message the template cannot take", openai.BadRequestError, "messages[0].role",
                     lambda: client.chat.completions.create(model=model, messages=[{"role": "tool", "content": "x",
                                                                                    "tool_call_id": "1"}]))
        req = urllib.request.Request(server.base_url + "/chat/completions", data=b'{"model": ', method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            check("malformed JSON is a 400", False, "no error")
        except urllib.error.HTTPError as e:
            body = json.load(e)
            check("malformed JSON is a 400 with OpenAI's error object", e.code == 400 and "message" in body.get("error", {}))

        # Batch-invariance: 32 seeded requests at once = one at a time.
        def ask(i):
            r = client.completions.create(model=model, prompt=f"Request {i}: the", max_tokens=12 + i % 9, seed=1000 + i,
                                          temperature=[1.0, 0.7, 0.0, 1.2][i % 4], top_p=0.9 if i % 3 == 0 else 1.0,
                                          extra_body={"top_k": 20} if i % 5 == 0 else None)
            return r.choices[0].text, r.choices[0].finish_reason, r.usage.completion_tokens

        sequential = [ask(i) for i in range(32)]
        before = health(server.root)["steps"]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            together = list(pool.map(ask, range(32)))
        steps = health(server.root)["steps"] - before
        same = [i for i in range(32) if together[i] == sequential[i]]
        check("32 concurrent seeded requests are byte-identical to sequential ones", len(same) == 32,
              f"differ: {[i for i in range(32) if i not in same]}")
        tokens = sum(t[2] for t in together)
        check("the 32 shared decoding steps", steps < tokens, f"{steps} steps for {tokens} tokens")

        # A client that disconnects mid-stream frees its slot.
        before = health(server.root)
        stream = client.completions.create(model=model, prompt="Once", max_tokens=context_room(server, model) - 4,
                                           stream=True, seed=1, extra_body={"ignore_eos": True})
        got = 0
        for _ in stream:
            got += 1
            if got == 3:
                break
        stream.close()
        deadline = time.time() + 30
        h = health(server.root)
        while (h["running"] > 0 or h["cancelled"] == before["cancelled"]) and time.time() < deadline:
            time.sleep(0.05)
            h = health(server.root)
        check("a disconnected stream frees its slot", h["running"] == 0 and h["cancelled"] == before["cancelled"] + 1, str(h))

        # SIGTERM: the running stream finishes, new connections are refused, exit 0.
        stream = client.completions.create(model=model, prompt="Once", max_tokens=context_room(server, model) - 4,
                                           stream=True, seed=2, extra_body={"ignore_eos": True})
        it = iter(stream)
        first = next(it)
        server.proc.terminate()
        time.sleep(0.3)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        except OSError:
            refused = True
        rest, finish = 1, None
        for chunk in it:
            rest += 1
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        code = server.proc.wait(timeout=60)
        check("SIGTERM: the running stream finishes", finish == "length" and first is not None, f"{rest} chunks, {finish}")
        check("SIGTERM: new connections are refused", refused)
        check("SIGTERM: exit 0", code == 0, f"exit {code}")

    print(f"{'FAILED: ' + ', '.join(failures) if failures else 'all passed'}")
    sys.exit(1 if failures else 0)


def context_room(server, model):
    """The model's context length, from /v1/models."""
    with urllib.request.urlopen(server.base_url + "/models", timeout=10) as r:
        return json.load(r)["data"][0]["max_model_len"]


if __name__ == "__main__":
    main()
