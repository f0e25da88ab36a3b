"""Starts `simply serve` on a free port and waits until it listens.

Shared by tools/serve/openai_client_test.py and tools/bench/serve_load.py.
"""
import re
import subprocess
import threading


class ServerProcess:
    """`simply serve --checkpoint CHECKPOINT --port 0 ARGS...` as a child process.

    `base_url` is the OpenAI base URL (http://127.0.0.1:PORT/v1) once it listens;
    `log` collects its stderr lines.
    """

    def __init__(self, simply, checkpoint, *args):
        self.log = []
        self.proc = subprocess.Popen([simply, "serve", "--checkpoint", checkpoint, "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()
        self.root = None

        def read():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on (http://[^ ]+)", line)
                if m:
                    self.root = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(timeout=120)
        if self.root is None:
            self.proc.kill()
            raise RuntimeError("simply serve did not start:\n" + "\n".join(self.log))
        self.base_url = self.root + "/v1"
        self.port = int(self.root.rsplit(":", 1)[1])

    def stop(self, timeout=60):
        """SIGTERM, then the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
