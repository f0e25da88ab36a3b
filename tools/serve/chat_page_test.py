#!/usr/bin/env python3
"""The chat page at / in headless Chromium, driven over the DevTools protocol.

    apt-get install -y chromium
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install websocket-client==1.9.2
    /tmp/venv/bin/python tools/serve/chat_page_test.py PATH/TO/simply RUN_OR_CHECKPOINT [SCREENSHOT.png]

Starts `simply serve` and Chromium, opens /?test=PROMPT: the page's own test
sends PROMPT through the chat box, streams the reply and writes PASS or FAIL
into #test-result. This script waits for that verdict (real time: a stream
is network activity that Chromium's virtual time does not wait for), checks
that the reply grew in several updates while it streamed, and saves a
screenshot of the page with the streamed reply. Exits 1 on FAIL.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

sys.path.insert(0, os.path.dirname(__file__))
from server_process import ServerProcess  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    simply, checkpoint = sys.argv[1], sys.argv[2]
    shot = sys.argv[3] if len(sys.argv) == 4 else "/tmp/simply-chat.png"
    profile = tempfile.mkdtemp(prefix="simply-chromium-")
    with ServerProcess(simply, checkpoint) as server:
        browser = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                    "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=900,860",
                                    "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Chromium writes the port it chose into the profile.
            port_file = os.path.join(profile, "DevToolsActivePort")
            for _ in range(300):
                if os.path.exists(port_file) and open(port_file).read().strip():
                    break
                time.sleep(0.1)
            port = open(port_file).read().split()[0]
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            page = next(p for p in pages if p["type"] == "page")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
            ids = iter(range(1, 10**6))

            def call(method, **params):
                i = next(ids)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg.get("result", {})

            def evaluate(expr):
                return call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

            call("Page.enable")
            call("Page.navigate", url=server.root + "/?test=" + urllib.request.quote("Tell me a story about a king"))
            verdict, lengths = None, []
            deadline = time.time() + 120
            while time.time() < deadline:
                verdict = evaluate("(document.getElementById('test-result') || {}).textContent || null")
                lengths.append(evaluate("(document.querySelector('.assistant') || {textContent: ''}).textContent.length"))
                if verdict:
                    break
                time.sleep(0.02)
            shot_data = call("Page.captureScreenshot", format="png")["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(shot_data))
            ws.close()
        finally:
            browser.terminate()
            browser.wait()
            shutil.rmtree(profile, ignore_errors=True)
        code = server.stop()
    distinct = sorted(set(n for n in lengths if n))
    print(f"page test: {verdict}")
    print(f"reply lengths seen while polling: {len(distinct)} distinct (the page's own count is its 'updates')")
    print(f"screenshot: {shot}")
    ok = bool(verdict) and verdict.startswith("PASS") and code == 0
    print("chat_page_test: " + ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
