#!/usr/bin/env python3
"""Issue 19 acceptance harness: attack the `simply` CLI as a hostile user and
measure the outcome.

    python3 tools/robustness/hostile.py [--simply PATH] [--json OUT]
        [--work DIR] [--only ckpt,inputs,writers,diskfull] [--timeout 60]

Parts:
  ckpt      one small deterministic run, then ~50 damaged copies of it; each is
            given to `simply verify DIR` and `simply train --experiment_dir DIR
            --resume --deterministic`
  inputs    100+ malformed configs (--set and JSON files), tokenizer.json files,
            safetensors / HF config.json for `simply import`, JSONL and text for
            `simply data prepare`, token shards, missing files, directories
  writers   two writers on one run directory (+ a verify while it is written)
  diskfull  a run directory on a 3 MB (and a 20 MB) tmpfs, then resume

Every child runs niced (+10), in its own session, with RLIMIT_AS (default
6 GiB, --mem_limit_gb) so a decompression bomb cannot take the machine down;
peak RSS comes from wait4's rusage. A child killed by a signal, or printing
Swift's "Fatal error", is a CRASH; one still running at the timeout is a HANG;
exit 0 where a refusal is required (or a recovery with different bits) is a
SILENT acceptance; a run broken by an admitted second writer is DAMAGED.
Exit status 1 if any crash, hang, silent acceptance or damage was seen.

Python 3 standard library only; `zstandard` (or the `zstd` command) is used
if present for the variants that must re-compress a shard, else they are
skipped.
"""
import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time

try:
    import zstandard  # optional
except Exception:  # pragma: no cover
    zstandard = None

# --------------------------------------------------------------------------
# child processes

ARGS = None
RESULTS = []
LOG = print


def _limits(mem_limit_gb):
    os.setsid()
    try:
        os.nice(10)
    except OSError:
        pass
    lim = int(mem_limit_gb * (1 << 30))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    except (ValueError, OSError):
        pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


# Children are started by a small helper process forked at start-up, while
# this process is still small: Linux carries the parent's peak RSS into a
# fork+exec'd child's ru_maxrss, so spawning from this (later large) process
# would make every child look at least as big as the harness.

class Spawner:
    def __init__(self):
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w1)
            os.close(r2)
            self._serve(os.fdopen(r1, "r"), os.fdopen(w2, "w"))
            os._exit(0)
        os.close(r1)
        os.close(w2)
        self.pid = pid
        self.req = os.fdopen(w1, "w")
        self.resp = os.fdopen(r2, "r")

    def call(self, **req):
        self.req.write(json.dumps(req) + "\n")
        self.req.flush()
        return json.loads(self.resp.readline())

    @staticmethod
    def _serve(fin, fout):
        done = {}
        for line in fin:
            q = json.loads(line)
            op = q["op"]
            if op == "start":
                out = os.open(q["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                err = os.open(q["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                nul = os.open("/dev/null", os.O_RDONLY)
                pid = os.fork()
                if pid == 0:
                    try:
                        os.dup2(nul, 0)
                        os.dup2(out, 1)
                        os.dup2(err, 2)
                        os.chdir(q["cwd"])
                        _limits(q["mem"])
                        os.execv(q["cmd"][0], q["cmd"])
                    except BaseException as e:
                        os.write(2, ("exec failed: %r\n" % e).encode())
                    os._exit(127)
                for fd in (out, err, nul):
                    os.close(fd)
                ans = {"pid": pid}
            elif op in ("wait", "poll"):
                pid, deadline = q["pid"], q.get("deadline")
                if pid not in done:
                    hung = False
                    while True:
                        p, status, ru = os.wait4(pid, os.WNOHANG)
                        if p == pid:
                            break
                        if op == "poll":
                            break
                        if time.monotonic() > deadline:
                            hung = True
                            try:
                                os.killpg(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                            p, status, ru = os.wait4(pid, 0)
                            break
                        time.sleep(0.02)
                    if p == pid:
                        done[pid] = {"status": status, "maxrss": ru.ru_maxrss, "hung": hung, "end": time.monotonic()}
                ans = done.get(pid, {"running": True})
            else:
                ans = {}
            fout.write(json.dumps(ans) + "\n")
            fout.flush()


SPAWNER = None


def spawn(cmd, cwd, out_path, err_path):
    return SPAWNER.call(op="start", cmd=[str(c) for c in cmd], cwd=cwd, out=out_path, err=err_path,
                        mem=ARGS.mem_limit_gb)["pid"]


def alive(pid):
    return SPAWNER.call(op="poll", pid=pid).get("running", False)


def reap(pid, timeout, start):
    """Waits (wait4) for pid; kills its process group at the timeout.
    Returns (status, maxrss_kb, hung, end)."""
    a = SPAWNER.call(op="wait", pid=pid, deadline=start + timeout)
    return a["status"], a["maxrss"], a["hung"], a["end"]


_LOGN = [0]


def run(cmd, cwd, timeout=None, tag="x"):
    """Runs cmd; returns a dict with rc, sig, hung, wall, rss_kb, stdout, stderr."""
    timeout = timeout or ARGS.timeout
    base = os.path.join(ARGS.work, "logs")
    os.makedirs(base, exist_ok=True)
    _LOGN[0] += 1
    n = _LOGN[0]
    out_path = os.path.join(base, "%05d.out" % n)
    err_path = os.path.join(base, "%05d.err" % n)
    start = time.monotonic()
    pid = spawn(cmd, cwd, out_path, err_path)
    status, maxrss, hung, end = reap(pid, timeout, start)
    wall = end - start
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    rc = -sig if sig else os.WEXITSTATUS(status)
    with open(out_path, "rb") as f:
        stdout = f.read(200000).decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        stderr = f.read(200000).decode("utf-8", "replace")
    return {"cmd": cmd, "rc": rc, "signal": sig, "hung": hung, "wall": round(wall, 3),
            "rss_kb": maxrss, "stdout": stdout, "stderr": stderr, "log": err_path[:-4]}


def error_line(s):
    """The error line of stderr (progress and banners also go there): the
    first line that mentions an error, else the last non-empty line; and
    whether nothing follows it (a one-line error)."""
    lines = [l.strip() for l in s.splitlines() if l.strip()]
    for i, l in enumerate(lines):
        low = l.lower()
        if low.startswith("error") or "fatal error" in low or ": error:" in low or "program crashed" in low:
            return l.strip("* ")[:400], i == len(lines) - 1
    return (lines[-1][:400] if lines else ""), False


def crash_site(s):
    """For a Swift crash report: the first frame in Simply's own sources."""
    seen = False
    for l in s.splitlines():
        if "crashed:" in l:
            seen = True
        elif seen and "/Sources/" in l and " in " in l:
            m = l.split("0x", 1)[-1].split(" ", 1)[-1]
            return m.strip()[:300]
    return ""


def first_line(s):
    for line in s.splitlines():
        if line.strip():
            return line.strip()[:400]
    return ""


def shell_cmd(cmd):
    def q(a):
        a = str(a)
        if len(a) > 120:
            a = a[:60] + "...(%d chars)" % len(a)
        if a and all(c.isalnum() or c in "-_./=:,@+%" for c in a):
            return a
        return "'" + a.replace("'", "'\\''") + "'"
    return " ".join(q(a) for a in cmd)


def record(category, name, r, expect, names=(), note="", extra=None, accepted_ok=None):
    """expect: 'refuse' (exit 0 = silent acceptance), 'either' (exit 0 allowed,
    but accepted_ok=False makes it a silent acceptance: wrong result), 'accept'
    (a refusal is a false refusal, reported but not fatal), 'any'."""
    text = r["stdout"] + "\n" + r["stderr"]
    crash = r["signal"] != 0 or "Fatal error" in r["stderr"] or "Fatal error" in r["stdout"]
    hang = r["hung"]
    refused = (not hang) and r["rc"] != 0
    silent = False
    if not crash and not hang and r["rc"] == 0:
        if expect == "refuse":
            silent = True
        elif expect in ("either", "accept") and accepted_ok is False:
            silent = True
    eline, eone = error_line(r["stderr"])
    if not eline or (r["rc"] != 0 and not any(w in eline.lower() for w in ("error", "crash"))):
        # verify prints DIVERGED ... on stdout
        for l in r["stdout"].splitlines():
            if l.strip().startswith(("DIVERGED", "error", "Error")):
                eline, eone = "(stdout) " + l.strip()[:400], True
                break
    names_file = bool(names) and any(n in text for n in names)
    res = {
        "category": category, "name": name, "cmd": shell_cmd(r["cmd"]), "rc": r["rc"],
        "signal": r["signal"], "crash": crash, "hang": hang, "refused": refused, "silent": silent,
        "expect": expect, "names_file": names_file if names else None,
        "one_line": eone if refused else None,
        "wall": r["wall"], "rss_kb": r["rss_kb"], "stderr_first": eline, "log": r.get("log"),
        "stdout_last": (r["stdout"].strip().splitlines() or [""])[-1][:300], "note": note,
    }
    if expect == "accept" and refused:
        res["false_refusal"] = True
    if crash:
        res["crash_site"] = crash_site(r["stderr"])
    if refused and eline.startswith("(stdout) DIVERGED"):
        res["names_file"] = True  # verify's divergence report names the step, the hash and the tensor
    if "/-" in r["stdout"] + r["stderr"]:
        res["anomaly"] = "progress shows a negative step total (integer truncation)"
    if refused and not crash and category == "config" and "step 1/" in r["stdout"] + r["stderr"]:
        res["anomaly"] = "refused only after training had started (late validation)"
    if extra:
        res.update(extra)
    if hang:
        v = "HANG"
    elif crash:
        v = "CRASH"
    elif silent:
        v = "SILENT"
    elif refused:
        v = "refused"
    elif expect == "either" and accepted_ok:
        v = "recovered"
    else:
        v = "ok"
    res["verdict"] = v
    RESULTS.append(res)
    LOG("  %-8s %-9s %-48s rc=%-4s %6.2fs %7.1fMB  %s" % (
        category, v, name[:48], r["rc"], r["wall"], r["rss_kb"] / 1024.0,
        (res["stderr_first"] or res["stdout_last"])[:110]))
    return res


# --------------------------------------------------------------------------
# JSON with the number text kept (so re-serialization matches Simply's)

class Num(str):
    pass


def jload(text):
    return json.loads(text, parse_float=Num, parse_int=Num,
                      parse_constant=lambda c: Num(c), object_pairs_hook=lambda pairs: Obj(pairs))


class Obj(list):
    """An object as an ordered list of pairs (duplicates allowed)."""

    def get(self, k, d=None):
        for kk, v in self:
            if kk == k:
                return v
        return d

    def __getitem__(self, k):
        if isinstance(k, str):
            for kk, v in self:
                if kk == k:
                    return v
            raise KeyError(k)
        return list.__getitem__(self, k)

    def __setitem__(self, k, v):
        if isinstance(k, str):
            for i, (kk, _) in enumerate(self):
                if kk == k:
                    list.__setitem__(self, i, (kk, v))
                    return
            self.append((k, v))
            return
        list.__setitem__(self, k, v)

    def without(self, k):
        return Obj([(kk, v) for kk, v in self if kk != k])


def _jstr(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jdump(v):
    """Simply's compact serialization: keys sorted by UTF-8 bytes, ',' ':'."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return _jstr(v)
    if isinstance(v, Obj):
        items = sorted(v, key=lambda kv: kv[0].encode("utf-8"))
        return "{" + ",".join(_jstr(k) + ":" + jdump(x) for k, x in items) + "}"
    if isinstance(v, dict):
        return jdump(Obj(v.items()))
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(jdump(x) for x in v) + "]"
    raise TypeError(type(v))


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def sign_manifest(m):
    """Recomputes manifest_sha256 (m is an Obj); returns the file bytes."""
    body = m.without("manifest_sha256")
    m["manifest_sha256"] = sha256_hex(jdump(body).encode("utf-8"))
    return (jdump(m) + "\n").encode("utf-8")


def read_manifest(path):
    with open(path, "rb") as f:
        return jload(f.read().decode("utf-8"))


def write(path, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------
# zstd helpers (pure Python frame writer; real codec optional)

def zstd_raw_frame(data, content_size=None):
    """A valid zstd frame of raw blocks (no checksum) holding `data`; its
    header records `content_size` (default len(data))."""
    cs = len(data) if content_size is None else content_size
    out = bytearray(b"\x28\xb5\x2f\xfd")
    out.append(0xE0)                      # FCS 8 bytes, single segment, no checksum
    out += struct.pack("<Q", cs)
    blocks = [data[i:i + 131072] for i in range(0, len(data), 131072)] or [b""]
    for i, b in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        hdr = last | (0 << 1) | (len(b) << 3)
        out += struct.pack("<I", hdr)[:3] + b
    return bytes(out)


def zstd_rle_bomb(total):
    """A frame of RLE blocks that really decompresses to `total` zero bytes."""
    out = bytearray(b"\x28\xb5\x2f\xfd")
    out.append(0xE0)
    out += struct.pack("<Q", total)
    n = total // 131072
    for i in range(n):
        last = 1 if i == n - 1 else 0
        hdr = last | (1 << 1) | (131072 << 3)
        out += struct.pack("<I", hdr)[:3] + b"\x00"
    return bytes(out)


def _zstd_cli(args, b):
    import tempfile
    with tempfile.TemporaryDirectory(dir=ARGS.work) as t:
        src, dst = os.path.join(t, "in"), os.path.join(t, "out")
        write(src, b)
        subprocess.run(["zstd", "-q", "-f"] + args + [src, "-o", dst], check=True)
        return read(dst)


def zstd_decompress(b):
    if zstandard is not None:
        return zstandard.ZstdDecompressor().decompress(b)
    if shutil.which("zstd"):
        return _zstd_cli(["-d"], b)
    return None


def zstd_compress(b):
    """One frame with content size and checksum, as Simply writes."""
    if zstandard is not None:
        return zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True).compress(b)
    if shutil.which("zstd"):
        return _zstd_cli(["-3", "--check"], b)  # a file input: the frame records its size
    return zstd_raw_frame(b)  # valid frame, just uncompressed


# --------------------------------------------------------------------------
# part 1: checkpoint corruption

def step_dir(run_dir, step):
    return os.path.join(run_dir, "checkpoints", "step-%08d" % step)


def shard_path(run_dir, step):
    return os.path.join(step_dir(run_dir, step), "shard-00000.safetensors.zst")


def manifest_path(run_dir, step):
    return os.path.join(step_dir(run_dir, step), "manifest.json")


def edit_manifest(run_dir, step, fn, resign):
    p = manifest_path(run_dir, step)
    m = read_manifest(p)
    fn(m)
    if resign:
        write(p, sign_manifest(m))
    else:
        write(p, (jdump(m) + "\n").encode("utf-8"))


def flip_byte(path, pos=None):
    b = bytearray(read(path))
    i = len(b) // 2 if pos is None else pos
    b[i] ^= 0x5A
    write(path, bytes(b))


def set_shard_file(run_dir, step, data, raw_bytes=None):
    """Replaces the shard and re-signs the manifest's shard entry for it."""
    write(shard_path(run_dir, step), data)

    def fn(m):
        s = m["shards"][0]
        s["sha256"] = sha256_hex(data)
        s["bytes"] = Num(str(len(data)))
        if raw_bytes is not None:
            s["raw_bytes"] = Num(str(raw_bytes))
    edit_manifest(run_dir, step, fn, resign=True)


def safetensors_parse(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return n, json.loads(raw[8:8 + n]), 8 + n


def ckpt_variants(ctx):
    """(name, expect_verify, expect_resume, damaged-file tokens, fn(run_dir), note)."""
    A, B, C = ctx["steps"]          # the three checkpoints, C newest
    sA, sB, sC = "step-%08d" % A, "step-%08d" % B, "step-%08d" % C
    mC = sC + "/manifest.json"
    shC = sC + "/shard-00000.safetensors.zst"
    V = []

    def v(name, ev, er, names, fn, note=""):
        V.append((name, ev, er, names, fn, note))

    R, E, ACC = "refuse", "either", "accept"

    # manifest.json damage (not re-signed)
    v("manifest truncated", R, R, [mC], lambda d: write(manifest_path(d, C), read(manifest_path(d, C))[:5000]))
    v("manifest empty", R, R, [mC], lambda d: write(manifest_path(d, C), b""))
    v("manifest deleted", R, E, [mC, sC], lambda d: os.remove(manifest_path(d, C)),
      "a fixed resume may fall back to the previous checkpoint")
    v("manifest step edited", R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("step", Num(str(C + 1))), False))
    v("manifest tensor sha256 edited", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["tensors"][3].__setitem__("sha256", "0" * 64), False))
    v("manifest shard bytes edited", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["shards"][0].__setitem__("bytes", Num("12")), False))
    v("manifest raw_bytes edited", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["shards"][0].__setitem__("raw_bytes", Num("1099511627776")), False))
    v("manifest tensor shape edited", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["tensors"][0].__setitem__("shape", [Num("4294967296"), Num("4294967296")]), False))
    v("manifest offset edited", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["tensors"][2].__setitem__("offset", Num("9223372036854775807")), False))
    v("manifest non-UTF-8 byte", R, R, [mC], lambda d: write(manifest_path(d, C), b"\xff\xfe" + read(manifest_path(d, C))))
    v("manifest 1e6-deep nesting", R, R, [mC], lambda d: write(manifest_path(d, C), b"[" * 1000000 + b"]" * 1000000))
    v("manifest duplicate key", R, R, [mC], lambda d: write(
        manifest_path(d, C), b'{"step": 1,' + read(manifest_path(d, C)).lstrip()[1:]))
    v("manifest is a directory", R, E, [mC], lambda d: (os.remove(manifest_path(d, C)), os.mkdir(manifest_path(d, C))))
    # re-signed edits (manifest_sha256 recomputed)
    v("re-signed: step %d->%d" % (C, C + 2), R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("step", Num(str(C + 2))), True))
    v("re-signed: step %d->%d" % (C, B), R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("step", Num(str(B))), True))
    v("re-signed: raw_bytes 2^40", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["shards"][0].__setitem__("raw_bytes", Num(str(1 << 40))), True))
    v("re-signed: tensor shape transposed", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["tensors"][0].__setitem__("shape", list(reversed(m["tensors"][0]["shape"]))), True))
    v("re-signed: tensor sha256 zeroed", R, R, [mC, shC], lambda d: edit_manifest(
        d, C, lambda m: m["tensors"][3].__setitem__("sha256", "0" * 64), True))
    v("re-signed: state_sha256 changed", R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("state_sha256", "1" * 64), True))
    v("re-signed: config_sha256 changed", R, R, [mC, "config"], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("config_sha256", "2" * 64), True))
    v("re-signed: data_cursor.step changed", E, E, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["data_cursor"].__setitem__("step", Num(str(C - 1))), True),
      "harmless iff the resumed bits equal the uninterrupted run's")
    v("re-signed: shard name ../", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["shards"][0].__setitem__("file", "../%s/shard-00000.safetensors.zst" % sA), True))
    v("re-signed: shard name /etc/passwd", R, R, [mC], lambda d: edit_manifest(
        d, C, lambda m: m["shards"][0].__setitem__("file", "../../../../../../etc/passwd"), True))
    v("re-signed: format_version 3", R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("format_version", Num("3")), True))
    v("re-signed: unknown field", R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("evil", "x" * 1000), True))
    v("re-signed: step 2^63-1", R, R, [mC], lambda d: edit_manifest(d, C, lambda m: m.__setitem__("step", Num("9223372036854775807")), True))
    v("manifest compact whitespace (benign)", ACC, ACC, [], lambda d: edit_manifest(d, C, lambda m: None, False),
      "whitespace is not significant: must be accepted")
    # LATEST
    latest = lambda d: os.path.join(d, "checkpoints", "LATEST")
    v("LATEST empty", E, E, ["LATEST"], lambda d: write(latest(d), b""), "recoverable: a complete checkpoint exists")
    v("LATEST missing", E, E, ["LATEST"], lambda d: os.remove(latest(d)), "recoverable: a complete checkpoint exists")
    v("LATEST garbage", E, E, ["LATEST"], lambda d: write(latest(d), bytes(range(256)) * 4), "recoverable")
    v("LATEST ../../x (outside)", E, E, ["LATEST"], lambda d: write(latest(d), b"../../x\n"), "must not leave the run directory")
    v("LATEST -> /etc", E, E, ["LATEST"], lambda d: write(latest(d), b"/etc\n"), "must not leave the run directory")
    v("LATEST -> missing step", E, E, ["LATEST", "step-00000099"], lambda d: write(latest(d), b"step-00000099\n"), "recoverable")
    v("LATEST -> older step %d" % B, E, E, ["LATEST"], lambda d: write(latest(d), sB.encode()), "recoverable: resume from B gives the same bits")
    v("LATEST is a directory", E, E, ["LATEST"], lambda d: (os.remove(latest(d)), os.mkdir(latest(d))), "recoverable")
    # shard damage
    v("shard flipped byte", R, E, [shC], lambda d: flip_byte(shard_path(d, C)), "resume may fall back to an older checkpoint")
    v("shard flipped byte in zstd header", R, E, [shC], lambda d: flip_byte(shard_path(d, C), 5))
    v("shard truncated", R, E, [shC], lambda d: write(shard_path(d, C), read(shard_path(d, C))[:len(read(shard_path(d, C))) // 2]))
    v("shard deleted", R, E, [shC], lambda d: os.remove(shard_path(d, C)))
    v("shard extra bytes appended", R, E, [shC], lambda d: write(shard_path(d, C), read(shard_path(d, C)) + b"\0" * 100))
    v("shard empty", R, E, [shC], lambda d: write(shard_path(d, C), b""))
    v("shard zstd header claims 2^40 bytes", R, E, [shC], lambda d: write(shard_path(d, C), zstd_raw_frame(b"\0" * 64, 1 << 40)))
    v("re-signed: zstd claims 2^40 + raw_bytes 2^40", R, E, [shC, mC], lambda d: set_shard_file(
        d, C, zstd_raw_frame(b"\0" * 64, 1 << 40), raw_bytes=1 << 40))
    bomb = 8 << 30
    v("re-signed: zstd RLE bomb 8 GiB", R, E, [shC, mC], lambda d: set_shard_file(d, C, zstd_rle_bomb(bomb), raw_bytes=bomb),
      "a real 8 GiB frame whose ratio passes the manifest bound")
    v("shard is a directory", R, E, [shC], lambda d: (os.remove(shard_path(d, C)), os.mkdir(shard_path(d, C))))
    v("shard symlink to /dev/zero", R, E, [shC], lambda d: (os.remove(shard_path(d, C)), os.symlink("/dev/zero", shard_path(d, C))))
    v("shard symlink to older step's shard", R, E, [shC], lambda d: (os.remove(shard_path(d, C)), os.symlink(
        os.path.abspath(shard_path(d, B)), shard_path(d, C))))
    v("shard replaced by older step's shard", R, E, [shC], lambda d: shutil.copyfile(shard_path(d, B), shard_path(d, C)))

    def forge_shard_only(d):
        data = read(shard_path(d, B))
        mb = read_manifest(manifest_path(d, B))
        shutil.copyfile(shard_path(d, B), shard_path(d, C))

        def fn(m):
            m["shards"] = mb["shards"]
        edit_manifest(d, C, fn, True)
    v("forged: older shard + re-signed shard entry", R, R, [shC, mC], forge_shard_only)

    def forge_full(d):
        mb = read_manifest(manifest_path(d, B))
        shutil.copyfile(shard_path(d, B), shard_path(d, C))

        def fn(m):
            m["shards"] = mb["shards"]
            m["tensors"] = mb["tensors"]
            m["state_sha256"] = mb["state_sha256"]
        edit_manifest(d, C, fn, True)
    v("forged: older shard+tensors+state_sha, re-signed", R, R, [sC], forge_full,
      "only hashes.jsonl's state hash at step C can tell")

    def forge_copy(d, cursor):
        shutil.rmtree(step_dir(d, C))
        shutil.copytree(step_dir(d, B), step_dir(d, C))

        def fn(m):
            m["step"] = Num(str(C))
            if cursor:
                m["data_cursor"]["step"] = Num(str(C))
        edit_manifest(d, C, fn, True)
    v("forged: step %d copied as %d, step re-signed" % (B, C), R, R, [sC], lambda d: forge_copy(d, False))
    v("forged: step %d copied as %d, step+cursor re-signed" % (B, C), R, R, [sC], lambda d: forge_copy(d, True))

    if ctx["zstd_ok"]:
        def tamper_tensor(d, level):
            raw = bytearray(zstd_decompress(read(shard_path(d, C))))
            n, hdr, base = safetensors_parse(bytes(raw))
            name = "model.norm.weight" if "model.norm.weight" in hdr else [k for k in hdr if k != "__metadata__"][0]
            a, b = hdr[name]["data_offsets"]
            raw[base + a: base + a + 4] = struct.pack("<f", 123.0)
            newz = zstd_compress(bytes(raw))
            tensor_sha = sha256_hex(bytes(raw[base + a: base + b]))
            write(shard_path(d, C), newz)

            def fn(m):
                m["shards"][0]["sha256"] = sha256_hex(newz)
                m["shards"][0]["bytes"] = Num(str(len(newz)))
                if level >= 1:
                    for t in m["tensors"]:
                        if t["name"] == name:
                            t["sha256"] = tensor_sha
            edit_manifest(d, C, fn, True)
        v("re-compressed: one weight changed, shard entry re-signed", R, R, [shC, "model.norm.weight"], lambda d: tamper_tensor(d, 0))
        v("re-compressed: weight changed, tensor sha256 re-signed", R, R, [sC], lambda d: tamper_tensor(d, 1),
          "the manifest's state_sha256 (or hashes.jsonl) must catch it")

    # older checkpoints / newest-corrupt
    v("older checkpoint %d shard flipped (newest good)" % B, R, ACC, [sB], lambda d: flip_byte(shard_path(d, B)),
      "resume uses the newest, good checkpoint; verify must catch the older one")
    v("newest %d deleted, LATEST dangling" % C, E, E, ["LATEST", sC], lambda d: shutil.rmtree(step_dir(d, C)),
      "recoverable from step %d" % B)
    v("leftover step-%08d.tmp with junk (benign)" % (C + 2), ACC, ACC, [],
      lambda d: (os.mkdir(step_dir(d, C + 2) + ".tmp"), write(os.path.join(step_dir(d, C + 2) + ".tmp", "manifest.json"), b"{")),
      "what kill -9 during a checkpoint leaves: must be ignored")
    v("checkpoints/ is a file", R, R, ["checkpoints"], lambda d: (shutil.rmtree(os.path.join(d, "checkpoints")), write(os.path.join(d, "checkpoints"), b"x")))
    v("all checkpoints deleted", R, R, ["checkpoint"], lambda d: shutil.rmtree(os.path.join(d, "checkpoints")))
    # hashes.jsonl
    hp = lambda d: os.path.join(d, "hashes.jsonl")

    def edit_hash_line(d, step, field, value):
        lines = read(hp(d)).decode().splitlines()
        out = []
        for l in lines:
            o = jload(l)
            if str(o["step"]) == str(step):
                o[field] = value
            out.append(jdump(o))
        write(hp(d), "\n".join(out) + "\n")
    v("hashes.jsonl step 3 state hash edited", R, E, ["hashes.jsonl"], lambda d: edit_hash_line(d, 3, "state_sha256", "3" * 64),
      "resume need not read old lines; verify must catch it")
    v("hashes.jsonl step %d state hash edited" % C, R, R, ["hashes.jsonl"], lambda d: edit_hash_line(d, C, "state_sha256", "4" * 64),
      "the checkpoint resumed from no longer matches the recorded state")
    v("hashes.jsonl step 2 loss_bits edited", R, E, ["hashes.jsonl"], lambda d: edit_hash_line(d, 2, "loss_bits", "7f800000"))
    v("hashes.jsonl last line half-written", E, E, ["hashes.jsonl"], lambda d: write(hp(d), read(hp(d))[:-60]),
      "what kill -9 mid-write leaves: recoverable")
    v("hashes.jsonl garbage line", R, E, ["hashes.jsonl"], lambda d: write(hp(d), read(hp(d)) + b"\x00\xffgarbage{{{\n"))
    v("hashes.jsonl cut to steps 1-3 (checkpoints at 4, 6)", R, E, ["hashes.jsonl"],
      lambda d: write(hp(d), b"".join(read(hp(d)).splitlines(True)[:3])),
      "what a second writer left behind in part 3; the checkpoints are ahead of the record")
    v("hashes.jsonl deleted", R, E, ["hashes.jsonl"], lambda d: os.remove(hp(d)))
    v("hashes.jsonl duplicate step line", R, E, ["hashes.jsonl"], lambda d: write(hp(d), read(hp(d)) + read(hp(d)).splitlines(True)[0]))
    # config.json
    cp = lambda d: os.path.join(d, "config.json")

    def edit_config(d, sect, key, value, resign=False):
        c = jload(read(cp(d)).decode())
        c[sect][key] = value
        if resign:
            h = ctx["config_identity"](c)
            c["run"]["config_sha256"] = h
            for s in ctx["steps"]:
                if os.path.exists(manifest_path(d, s)):
                    edit_manifest(d, s, lambda m: m.__setitem__("config_sha256", h), True)
        write(cp(d), jdump(c) + "\n")
    v("config.json train.lr edited", R, R, ["config.json", "config_sha256"], lambda d: edit_config(d, "train", "lr", Num("0.01")))
    v("config.json model.d_model edited", R, R, ["config.json", "config_sha256", "d_model"], lambda d: edit_config(d, "model", "d_model", Num("64")))
    v("config.json train.steps edited (%d->4)" % ctx["total"], E, E, ["config.json"], lambda d: edit_config(d, "train", "steps", Num("4")))
    v("config.json truncated", R, R, ["config.json"], lambda d: write(cp(d), read(cp(d))[:300]))
    v("config.json deleted", R, R, ["config.json"], lambda d: os.remove(cp(d)))
    v("config.json deep nesting", R, R, ["config.json"], lambda d: write(cp(d), b"[" * 1000000 + b"]" * 1000000))
    v("config.json run.data_sha256 edited", R, R, ["config.json", "data_sha256"], lambda d: edit_config(d, "run", "data_sha256", "5" * 64))
    if ctx["config_identity_ok"]:
        v("forged: config lr changed, config_sha256 everywhere re-signed", R, E, ["hashes.jsonl", "step"],
          lambda d: edit_config(d, "train", "lr", Num("0.01"), resign=True),
          "verify's replay must diverge from hashes.jsonl; resume continues with other bits")
    return V


def compare_hashes(path, ref_bytes, total, after):
    """Did the resume produce the uninterrupted run's records? Every step
    1..total present, and steps > after (the ones a resume from any kept
    checkpoint rewrites) equal to the reference."""
    ref = {}
    for l in ref_bytes.decode().splitlines():
        ref[json.loads(l)["step"]] = l
    try:
        got, dup = {}, 0
        for l in read(path).decode("utf-8", "replace").splitlines():
            try:
                st = json.loads(l)["step"]
            except Exception:
                continue
            dup += st in got
            got[st] = l
    except OSError:
        return False, "hashes.jsonl missing after the resume"
    missing = [s for s in range(1, total + 1) if s not in got]
    differ = [s for s in range(after + 1, total + 1) if s in got and got[s] != ref[s]]
    if missing or differ:
        return False, "DIFFER from the uninterrupted run's (missing steps %s, different steps %s)" % (missing, differ)
    old = [s for s in range(1, after + 1) if got[s] != ref[s]]
    return True, "equal the uninterrupted run's for steps %d-%d%s" % (
        after + 1, total, "" if not (old or dup) else " (older damage left in hashes.jsonl: steps %s, %d duplicate lines)" % (old, dup))


def part_ckpt():
    LOG("== part 1: checkpoint corruption")
    simply = ARGS.simply
    w = os.path.join(ARGS.work, "ckpt")
    shutil.rmtree(w, ignore_errors=True)  # a fresh start when --work is reused
    os.makedirs(w, exist_ok=True)
    total, interval = 8, 2
    full = os.path.join(w, "full")
    r = run([simply, "train", "--experiment_config", "tiny", "--config_dir", ARGS.config_dir, "--deterministic",
             "--set", "train.steps=%d" % total, "--set", "checkpoint.interval=%d" % interval,
             "--set", "checkpoint.keep_last=4", "--experiment_dir", full], w, timeout=300)
    if r["rc"] != 0:
        record("ckpt", "setup: train base run", r, "accept")
        LOG("   base run failed; skipping part 1")
        return
    steps = sorted(int(n[5:]) for n in os.listdir(os.path.join(full, "checkpoints")) if n.startswith("step-") and not n.endswith(".tmp"))
    ref_hashes = read(os.path.join(full, "hashes.jsonl"))
    # The base: the run as kill -9 leaves it during step total's checkpoint:
    # newest complete checkpoint is total-2, hashes.jsonl has total-1 steps.
    base = os.path.join(w, "base")
    shutil.copytree(full, base, symlinks=True)
    shutil.rmtree(step_dir(base, total))
    write(os.path.join(base, "checkpoints", "LATEST"), "step-%08d" % (total - 2))
    for fn in ("hashes.jsonl", "metrics.jsonl"):
        lines = read(os.path.join(base, fn)).splitlines(True)
        write(os.path.join(base, fn), b"".join(lines[:total - 1]))
    steps = [s for s in steps if s != total][-3:]
    if len(steps) < 2:
        LOG("   expected at least 2 checkpoints, got %s" % steps)
        return
    while len(steps) < 3:
        steps.insert(0, steps[0])
    ctx = {"steps": steps, "total": total, "zstd_ok": (zstandard is not None or shutil.which("zstd") is not None)}

    def identity(c):
        body = Obj([(k, v) for k, v in c if k not in ("run", "checkpoint")])
        return sha256_hex(jdump(body).encode("utf-8"))
    cfg = jload(read(os.path.join(base, "config.json")).decode())
    ctx["config_identity"] = identity
    ctx["config_identity_ok"] = identity(cfg) == cfg["run"]["config_sha256"]
    man = read_manifest(manifest_path(base, steps[-1]))
    resign_ok = sign_manifest(man) and read_manifest(manifest_path(base, steps[-1]))["manifest_sha256"] == man["manifest_sha256"]
    LOG("   checkpoints %s, newest complete %d; manifest re-signing %s; config identity %s; zstd codec %s" % (
        steps, steps[-1], "reproduces Simply's hash" if resign_ok else "DOES NOT reproduce Simply's hash",
        "ok" if ctx["config_identity_ok"] else "not reproducible (forged-config variant skipped)",
        "zstandard" if zstandard else ("zstd CLI" if shutil.which("zstd") else "none (re-compress variants skipped)")))

    variants = [("control: undamaged copy", "accept", "accept", [], lambda d: None, "must verify and resume")]
    variants += ckpt_variants(ctx)
    if ARGS.quick:
        variants = variants[:8]
    case = os.path.join(w, "case")
    for name, ev, er, names, fn, note in variants:
        if os.path.lexists(case):
            shutil.rmtree(case)
        shutil.copytree(base, case, symlinks=True)
        try:
            fn(case)
        except Exception as e:  # a harness bug must not stop the run
            LOG("   !! could not build variant %r: %r" % (name, e))
            continue
        snapshot = os.path.join(w, "case.orig")
        if os.path.lexists(snapshot):
            shutil.rmtree(snapshot)
        shutil.copytree(case, snapshot, symlinks=True)
        rv = run([simply, "verify", case], w)
        record("ckpt", name + " [verify]", rv, ev, names, note)
        # the replay that starts from the damaged (newest) checkpoint
        # It checks the newest checkpoint and the steps after it only, so damage
        # elsewhere (older checkpoints, old hashes.jsonl lines) is not its job.
        sC = "step-%08d" % steps[-1]
        about_newest = (any(sC in n for n in names) or name.startswith(("manifest", "shard", "re-signed", "forged", "re-compressed"))
                        or "step %d" % steps[-1] in name or "cut to" in name or name.startswith("config.json"))
        ef = ev if (ev != "refuse" or about_newest) else "any"
        rf = run([simply, "verify", case, "--from", str(steps[-1]), "--steps", "1"], w)
        record("ckpt", name + " [verify --from %d]" % steps[-1], rf, ef, names, note)
        shutil.rmtree(case)
        shutil.copytree(snapshot, case, symlinks=True)
        # fresh damaged copy for resume (verify must not have repaired it)
        shutil.rmtree(case)
        shutil.move(snapshot, case)
        rr = run([simply, "train", "--experiment_dir", case, "--resume", "--deterministic"], w)
        ok = None
        if rr["rc"] == 0 and not rr["hung"]:
            ok, why = compare_hashes(os.path.join(case, "hashes.jsonl"), ref_hashes, total, steps[1])
        extra = {"resume_hashes_match_reference": ok}
        n2 = (note + "; " if note else "") + ("" if ok is None else ("resumed bits: " + why))
        record("ckpt", name + " [resume]", rr, er, names, n2, extra, accepted_ok=ok)
    if os.path.lexists(case):
        shutil.rmtree(case)


# --------------------------------------------------------------------------
# part 2: malformed inputs

TINY_CONFIG = None


def part_inputs():
    LOG("== part 2: malformed inputs")
    simply = ARGS.simply
    w = os.path.join(ARGS.work, "inputs")
    shutil.rmtree(w, ignore_errors=True)  # a fresh start when --work is reused
    os.makedirs(w, exist_ok=True)
    cfgdir = ARGS.config_dir
    with open(os.path.join(cfgdir, "tiny.json")) as f:
        tiny = json.load(f)
    counter = [0]

    def rundir():
        counter[0] += 1
        return os.path.join(w, "runs", "r%04d" % counter[0])

    def train_cmd(*extra):
        return [simply, "train", "--config_dir", cfgdir, "--deterministic", "--experiment_dir", rundir()] + list(extra)

    def case(cat, name, cmd, expect, names=(), timeout=None, note="", ran_ok=False):
        r = run(cmd, w, timeout=timeout)
        if ran_ok and r["hung"] and ("step 1/" in r["stdout"] or "step 1/" in r["stderr"]):
            r = dict(r, hung=False, signal=0, rc=0)
            note = (note + "; " if note else "") + "started training; killed at the timeout"
        return record(cat, name, r, expect, names, note)

    # ---- 2a. config values via --set (train.steps=2 first so accepted runs end fast)
    huge = [
        ("train.batch_size", "1000000000"), ("model.d_model", "1000000"), ("model.n_layers", "1000000000"),
        ("model.vocab_size", "1000000000000"), ("model.seq_len", "1000000"), ("model.d_model", str(1 << 62)),
        ("model.d_ff", str(1 << 62)), ("model.n_heads", "1000000"), ("model.n_kv_heads", "0"),
        ("model.d_model", "-128"), ("model.n_layers", "-1"), ("train.batch_size", "0"), ("train.batch_size", "-8"),
        ("model.d_model", "128.5"), ("model.d_model", "1e3"), ("model.d_model", "abc"), ("model.d_model", ""),
        ("model.d_model", "99999999999999999999999999999"), ("model.n_heads", "3"), ("model.n_kv_heads", "3"),
        ("train.lr", "nan"), ("train.lr", "inf"), ("train.lr", "-1e308"), ("train.lr", "1e999"),
        ("train.grad_shards", "1000000"), ("train.grad_shards", "0"), ("train.warmup_steps", "-5"),
        ("train.seed", "-1"), ("train.seed", "18446744073709551616"), ("model.rope_theta", "0"),
        ("model.norm_eps", "-1"), ("model.vocab_size", "0"), ("model.vocab_size", "100"),
        ("checkpoint.compression_level", "99"), ("checkpoint.compression_level", "-1000000"),
        ("checkpoint.interval", "0"), ("checkpoint.interval", "-1"), ("checkpoint.keep_last", "0"),
        ("checkpoint.shard_mb", "0"), ("checkpoint.shard_mb", "1e30"), ("data.dataset", "/nonexistent/x.tokens"),
        ("data.dataset", "/etc"), ("data.dataset", "builtin:nope"), ("data.dataset", "a@0.5,b@nan"),
        ("data.synthetic_bytes", "1000000000000000"), ("data.synthetic_bytes", "0"), ("data.tokenizer", "/nonexistent.json"),
        ("data.tokenizer", "/etc"), ("train.training_mode", "evil"), ("model.tie_embeddings", "maybe"),
        ("no.such_key", "1"), ("model", "1"), ("model.d_model.x", "1"), ("", "1"),
        ("model.d_model", "[1,2]"), ("model.d_model", '{"a":1}'), ("train.steps", "0"), ("train.steps", "-1"),
        ("model.d_model", "x" * 100000),
    ]
    for key, val in huge:
        name = "--set %s=%s" % (key, val if len(val) < 40 else val[:20] + "...(%d)" % len(val))
        case("config", name, train_cmd("--set", "train.steps=2", "--set", "%s=%s" % (key, val)), "any",
             [key or "unknown config key", val.split("@")[0].split(",")[0]] if key.startswith("data.") else [key or "unknown config key"],
             note="expected: one line naming the key")
    for val in ("1e18", "1000000000000000000", "9223372036854775807", "1.5"):
        case("config", "--set train.steps=%s" % val, train_cmd("--set", "train.steps=%s" % val), "any", ["train.steps"],
             timeout=20, ran_ok=True, note="a legal but endless run may start; only crash/hang count")
    case("config", "--set without =", train_cmd("--set", "model.d_model"), "refuse", ["model.d_model"])
    case("config", "--threads 0", train_cmd("--set", "train.steps=2", "--threads", "0"), "refuse", ["threads"])
    case("config", "--threads 1000000", train_cmd("--set", "train.steps=2", "--threads", "1000000"), "any", ["threads"])
    case("config", "--threads -1", train_cmd("--set", "train.steps=2", "--threads", "-1"), "refuse", ["threads"])

    # ---- 2b. config files
    cdir = os.path.join(w, "configs")
    os.makedirs(cdir, exist_ok=True)

    def cfg_file(name, text):
        p = os.path.join(cdir, name + ".json")
        write(p, text)
        return p

    def with_(sect, key, val):
        c = json.loads(json.dumps(tiny))
        c.setdefault("train", {})["steps"] = 2
        c.setdefault(sect, {})[key] = val
        return json.dumps(c)
    file_cases = [
        ("batch_size 1e9", with_("train", "batch_size", 1000000000)),
        ("d_model 1e6", with_("model", "d_model", 1000000)),
        ("n_layers 1e9", with_("model", "n_layers", 1000000000)),
        ("vocab_size 1e12", with_("model", "vocab_size", 1000000000000)),
        ("seq_len 1e6", with_("model", "seq_len", 1000000)),
        ("d_model 2^62", with_("model", "d_model", 1 << 62)),
        ("d_model 2^64", with_("model", "d_model", 1 << 64)),
        ("d_model -1", with_("model", "d_model", -1)),
        ("d_model 128.0", with_("model", "d_model", 128.0)),
        ("d_model 1e400", with_("model", "d_model", 1).replace('"d_model": 1', '"d_model": 1e400')),
        ("d_model string", with_("model", "d_model", "128")),
        ("d_model null", with_("model", "d_model", None)),
        ("d_model nested garbage", with_("model", "d_model", {"a": [1, {"b": None}]})),
        ("model is a list", json.dumps(dict(tiny, model=[1, 2, 3]))),
        ("steps 1e18", with_("train", "steps", 1).replace('"steps": 1', '"steps": 1e18')),
        ("compression_level 99", with_("checkpoint", "compression_level", 99)),
        ("10 MB string value", with_("data", "dataset", "x" * 10000000)),
        ("10 MB key", with_("model", "k" * 10000000, 1)),
        ("duplicate keys", '{"model": {"d_model": 128, "d_model": 1000000000}, "train": {"steps": 2}}'),
        ("duplicate keys, both small", '{"model": {"d_model": 128, "d_model": 64}, "train": {"steps": 2}}'),
        ("duplicate sections", '{"model": {"d_model": 128}, "model": {"d_model": 64}, "train": {"steps": 2}}'),
        ("deep nesting 1e6", "[" * 1000000 + "]" * 1000000),
        ("deep nesting 1e6 objects", '{"a":' * 1000000 + "1" + "}" * 1000000),
        ("empty file", ""),
        ("not JSON", "model.d_model = 128\n"),
        ("JSON array top", "[1,2,3]"),
        ("JSON string top", '"tiny"'),
        ("trailing garbage", json.dumps(tiny) + "}}}"),
        ("non-UTF-8", b"\xff\xfe{\"model\": {}}".decode("latin-1")),
        ("NUL bytes", '{"model"\x00: {}}'),
        ("unknown key", with_("model", "evil", 1)),
        ("unknown section", json.dumps(dict(tiny, evil={"x": 1}))),
        ("huge number literal", '{"train": {"steps": ' + "9" * 100000 + "}}"),
    ]
    for name, text in file_cases:
        p = cfg_file("c%03d" % len(os.listdir(cdir)), text.encode("latin-1") if name == "non-UTF-8" else text)
        case("config", "file: " + name, train_cmd("--experiment_config", p),
             "refuse" if name.startswith("duplicate") else "any", [os.path.basename(p)],
             timeout=20 if "steps 1e18" in name else None, ran_ok="steps 1e18" in name,
             note="expected: one line naming the file/key")
    case("config", "file: missing", train_cmd("--experiment_config", os.path.join(cdir, "missing.json")), "refuse", ["missing.json"])
    case("config", "file: a directory", train_cmd("--experiment_config", cdir + "/"), "refuse", [cdir])
    case("config", "file: /dev/null", train_cmd("--experiment_config", "/dev/null"), "refuse", ["/dev/null"])
    case("config", "name with ../", [simply, "train", "--config_dir", cfgdir, "--experiment_config", "../../../etc/passwd",
                                     "--experiment_dir", rundir()], "refuse", ["passwd"])
    case("config", "--experiment_dir is a file", [simply, "train", "--config_dir", cfgdir, "--set", "train.steps=2",
                                                  "--experiment_dir", "/etc/passwd"], "refuse", ["/etc/passwd"])
    case("config", "--resume on missing dir", [simply, "train", "--resume", "--experiment_dir", os.path.join(w, "nope")], "refuse", ["nope"])
    case("config", "--resume on empty dir", [simply, "train", "--resume", "--experiment_dir", cdir], "refuse", [cdir])
    case("config", "--load_checkpoint garbage", train_cmd("--set", "train.steps=2", "--load_checkpoint", "/etc/passwd"), "refuse", ["passwd"])
    case("config", "verify missing dir", [simply, "verify", os.path.join(w, "nope")], "refuse", ["nope"])
    case("config", "verify a file", [simply, "verify", "/etc/passwd"], "refuse", ["passwd"])
    case("config", "verify --golden garbage", [simply, "verify", "--golden", "/etc/passwd"], "refuse", ["passwd"])

    # ---- 2c. tokenizers
    tdir = os.path.join(w, "tok")
    os.makedirs(tdir, exist_ok=True)
    corpus = os.path.join(tdir, "corpus.txt")
    run([simply, "data", "synthetic", "--bytes", "100000", "--output", corpus], w)
    good = os.path.join(tdir, "good.json")
    rt = run([simply, "tokenizer", "train", corpus, "--vocab_size", "300", "--out", good], w)
    small_txt = os.path.join(tdir, "small.txt")
    write(small_txt, read(corpus)[:2000] if os.path.exists(corpus) else b"hello world\n")
    if rt["rc"] != 0 or not os.path.exists(good):
        record("tokenizer", "setup: tokenizer train", rt, "accept")
    else:
        tj = json.loads(read(good))

        def tvar(fn):
            t = json.loads(json.dumps(tj))
            fn(t)
            return json.dumps(t)
        vocab_items = list(tj["model"]["vocab"].items())
        specials = {a["content"] for a in tj.get("added_tokens", [])}
        plain = [k for k, _ in vocab_items if k not in specials]
        first_tok = plain[0]
        last_tok = plain[-1]          # the last merged token
        last_special = tj["added_tokens"][-1]["content"]

        def set_special_id(t, i):   # consistently in vocab and added_tokens
            t["model"]["vocab"][last_special] = i
            t["added_tokens"][-1]["id"] = i

        def set_vocab_id(t, tok, i):
            t["model"]["vocab"][tok] = i
        tok_cases = [
            ("vocab id 2^31-1", tvar(lambda t: set_vocab_id(t, last_tok, 2 ** 31 - 1))),
            ("vocab id 2^63", tvar(lambda t: set_vocab_id(t, last_tok, 2 ** 63))),
            ("vocab id -1", tvar(lambda t: set_vocab_id(t, first_tok, -1))),
            ("vocab id 1.5", tvar(lambda t: set_vocab_id(t, last_tok, 1.5))),
            ("vocab id string", tvar(lambda t: set_vocab_id(t, last_tok, "7"))),
            ("vocab duplicate ids", tvar(lambda t: set_vocab_id(t, last_tok, 0))),
            ("special id 2^31-1 (vocab+added_tokens)", tvar(lambda t: set_special_id(t, 2 ** 31 - 1))),
            ("special id 2^32", tvar(lambda t: set_special_id(t, 2 ** 32))),
            ("added_token id 2^31-1", tvar(lambda t: t["added_tokens"][0].__setitem__("id", 2 ** 31 - 1))),
            ("added_token id -5", tvar(lambda t: t["added_tokens"][0].__setitem__("id", -5))),
            ("added_tokens not a list", tvar(lambda t: t.__setitem__("added_tokens", {"a": 1}))),
            ("200k garbage merges", tvar(lambda t: t["model"].__setitem__("merges", [["a%d" % i, "b%d" % i] for i in range(200000)]))),
            ("merge of unknown tokens", tvar(lambda t: t["model"]["merges"].append(["zzzz", "qqqq"]))),
            ("merge with 3 parts", tvar(lambda t: t["model"]["merges"].append(["a", "b", "c"]))),
            ("merge as 'a b c' string", tvar(lambda t: t["model"]["merges"].append("a b c"))),
            ("merge of a 1 MB token", tvar(lambda t: t["model"]["merges"].append(["x" * 1000000, "y"]))),
            ("vocab 1 MB token", tvar(lambda t: set_vocab_id(t, "x" * 1000000, len(vocab_items)))),
            ("missing model", tvar(lambda t: t.pop("model"))),
            ("missing vocab", tvar(lambda t: t["model"].pop("vocab"))),
            ("missing merges", tvar(lambda t: t["model"].pop("merges"))),
            ("model type WordPiece", tvar(lambda t: t["model"].__setitem__("type", "WordPiece"))),
            ("pre_tokenizer garbage", tvar(lambda t: t.__setitem__("pre_tokenizer", [1, 2, 3]))),
            ("vocab empty", tvar(lambda t: t["model"].__setitem__("vocab", {}))),
            ("vocab is a list", tvar(lambda t: t["model"].__setitem__("vocab", [1, 2]))),
            ("non-UTF-8", None),
            ("deep nesting 1e6", "[" * 1000000 + "]" * 1000000),
            ("empty file", ""),
            ("JSON null", "null"),
        ]
        for name, text in tok_cases:
            p = os.path.join(tdir, "t%03d.json" % len(os.listdir(tdir)))
            write(p, b"\xff\xfe\x00garbage" + read(good)[10:] if text is None else text)
            case("tokenizer", name + " [encode]", [simply, "tokenizer", "encode", "--tokenizer", p, "--text", "Hello there"],
                 "refuse" if name not in ("merge of unknown tokens", "vocab 1 MB token", "200k garbage merges") else "any",
                 [os.path.basename(p)])
            case("tokenizer", name + " [prepare]", [simply, "data", "prepare", small_txt, "--format", "text", "--output",
                 os.path.join(tdir, "out%d.tokens" % len(RESULTS)), "--tokenizer", p],
                 "refuse" if name not in ("merge of unknown tokens", "vocab 1 MB token", "200k garbage merges") else "any",
                 [os.path.basename(p)])
        case("tokenizer", "tokenizer is a directory", [simply, "tokenizer", "encode", "--tokenizer", tdir, "--text", "x"], "refuse", [tdir])
        case("tokenizer", "tokenizer missing", [simply, "tokenizer", "encode", "--tokenizer", tdir + "/missing.json", "--text", "x"], "refuse", ["missing.json"])
        case("tokenizer", "decode id 2^31-1", [simply, "tokenizer", "decode", "--tokenizer", good, "--ids", "2147483647"], "any", ["2147483647"],
             note="an unknown id may be refused or shown as a placeholder")
        case("tokenizer", "decode id -1", [simply, "tokenizer", "decode", "--tokenizer", good, "--ids", "-1"], "refuse", ["-1"])
        case("tokenizer", "decode id 2^64", [simply, "tokenizer", "decode", "--tokenizer", "byte", "--ids", "18446744073709551616"], "refuse", ["18446744073709551616"])
        case("tokenizer", "decode ids garbage", [simply, "tokenizer", "decode", "--tokenizer", "byte", "--ids", "1 two 3"], "refuse", ["two"])
        case("tokenizer", "train vocab_size 2^62", [simply, "tokenizer", "train", small_txt, "--vocab_size", str(1 << 62), "--out", tdir + "/big.json"], "any", ["vocab_size"])
        case("tokenizer", "train vocab_size 10", [simply, "tokenizer", "train", small_txt, "--vocab_size", "10", "--out", tdir + "/ten.json"], "refuse", ["vocab_size"])
        case("tokenizer", "train vocab_size -1", [simply, "tokenizer", "train", small_txt, "--vocab_size", "-1", "--out", tdir + "/neg.json"], "refuse", ["vocab_size"])
        case("tokenizer", "train --out is a directory", [simply, "tokenizer", "train", small_txt, "--vocab_size", "300", "--out", tdir], "refuse", [tdir])
        case("tokenizer", "train on a directory", [simply, "tokenizer", "train", tdir, "--vocab_size", "300", "--out", tdir + "/d.json"], "refuse", [tdir])
        p = os.path.join(tdir, "t_big_id.json")
        write(p, tvar(lambda t: set_special_id(t, 2 ** 31 - 1)))
        case("tokenizer", "train with tokenizer id 2^31-1", train_cmd("--set", "train.steps=2", "--set", "data.tokenizer=" + p), "refuse", ["t_big_id.json"])

    # ---- 2d. data prepare inputs
    ddir = os.path.join(w, "data")
    os.makedirs(ddir, exist_ok=True)
    line = lambda o: json.dumps(o) + "\n"
    jsonl_cases = [
        ("broken line", line({"text": "ok"}) + '{"text": "unterminated\n' + line({"text": "ok2"}), "jsonl"),
        ("huge line 20 MB", line({"text": "a" * 20000000}), "jsonl"),
        ("huge line 20 MB no newline, not JSON", "x" * 20000000, "jsonl"),
        ("text is a number", line({"text": 5}), "jsonl"),
        ("text is null", line({"text": None}), "jsonl"),
        ("text is a list", line({"text": ["a", "b"]}), "jsonl"),
        ("text field missing", line({"body": "x"}), "jsonl"),
        ("record is an array", "[1,2,3]\n", "jsonl"),
        ("record is a string", '"hello"\n', "jsonl"),
        ("empty file", "", "jsonl"),
        ("only newlines", "\n" * 100000, "jsonl"),
        ("binary", bytes(random.Random(1).randrange(256) for _ in range(100000)), "jsonl"),
        ("NUL inside JSON", '{"text": "a\x00b"}\n', "jsonl"),
        ("lone surrogate escape", '{"text": "\\ud800"}\n', "jsonl"),
        ("non-UTF-8 text", b'{"text": "\xff\xfe"}\n', "jsonl"),
        ("deep nesting line", '{"text": "x", "a": ' + "[" * 1000000 + "]" * 1000000 + "}\n", "jsonl"),
        ("duplicate text keys", '{"text": "a", "text": 5}\n', "jsonl"),
        ("BOM", "\ufeff" + line({"text": "x"}), "jsonl"),
        ("CRLF lines", '{"text": "a"}\r\n{"text": "b"}\r\n', "jsonl"),
        ("alpaca: instruction is a number", line({"instruction": 5, "output": "x"}), "alpaca"),
        ("alpaca: output missing", line({"instruction": "x"}), "alpaca"),
        ("sharegpt: conversations garbage", line({"conversations": "nope"}), "sharegpt"),
        ("sharegpt: from unknown role", line({"conversations": [{"from": "evil", "value": "x"}]}), "sharegpt"),
        ("messages: content is an object", line({"messages": [{"role": "user", "content": {"a": 1}}]}), "messages"),
        ("messages: 100k messages", line({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}] * 50000}), "messages"),
        ("preference: chosen missing", line({"prompt": "p", "rejected": "r"}), "preference"),
        ("prompt_completion: wrong types", line({"prompt": [1], "completion": {"x": 1}}), "prompt_completion"),
        ("prompt_only: prompt is null", line({"prompt": None}), "prompt_only"),
        ("auto: first record garbage", "not json at all\n" + line({"text": "x"}), "auto"),
        ("text format: binary", bytes(random.Random(2).randrange(256) for _ in range(100000)), "text"),
        ("text format: empty", "", "text"),
    ]
    for name, content, fmt in jsonl_cases:
        p = os.path.join(ddir, "d%03d.%s" % (len(os.listdir(ddir)), "txt" if fmt == "text" else "jsonl"))
        write(p, content)
        expect = "any" if name in ("huge line 20 MB", "only newlines", "BOM", "CRLF lines", "text format: binary",
                                   "messages: 100k messages", "duplicate text keys", "NUL inside JSON") else "refuse"
        case("data", name, [simply, "data", "prepare", p, "--format", fmt, "--output", p + ".out"], expect, [os.path.basename(p)])
    case("data", "input is a directory", [simply, "data", "prepare", ddir, "--output", ddir + "/x.tokens"], "refuse", [ddir])
    case("data", "input missing", [simply, "data", "prepare", ddir + "/missing.jsonl", "--output", ddir + "/y.tokens"], "refuse", ["missing.jsonl"])
    ok_in = os.path.join(ddir, "ok.jsonl")
    write(ok_in, line({"text": "hello world"}) * 50)
    case("data", "output is a directory", [simply, "data", "prepare", ok_in, "--output", ddir], "refuse", [ddir])
    case("data", "output in missing dir", [simply, "data", "prepare", ok_in, "--output", ddir + "/no/such/x.tokens"], "refuse", ["no/such"])
    case("data", "unknown --format", [simply, "data", "prepare", ok_in, "--format", "evil", "--output", ddir + "/z.tokens"], "refuse", ["evil"])
    case("data", "--text_field missing everywhere", [simply, "data", "prepare", ok_in, "--format", "jsonl", "--text_field", "nope",
                                                     "--output", ddir + "/tf.tokens"], "refuse", ["nope"])
    before = read(ok_in)
    r = case("data", "output = input", [simply, "data", "prepare", ok_in, "--output", ok_in], "refuse", ["ok.jsonl"],
             note="exit 0 here overwrites the input with its own token shard")
    if os.path.exists(ok_in) and read(ok_in) != before:
        r["note"] += " (it did: the input file was replaced)"
    # token shards: a good one, then damaged copies used by inspect and train
    shard = os.path.join(ddir, "good.tokens")
    rp = run([simply, "data", "prepare", corpus if os.path.exists(corpus) else ok_in, "--format", "text", "--output", shard], w)
    if rp["rc"] == 0 and os.path.exists(shard):
        g = read(shard)
        shard_cases = [
            ("truncated to 16 bytes", g[:16]), ("truncated half", g[:len(g) // 2]), ("empty", b""),
            ("header flipped", bytes([g[0] ^ 0xFF]) + g[1:]), ("byte 8..16 = 0xFF", g[:8] + b"\xff" * 8 + g[16:]),
            ("byte 16..32 = 0xFF", g[:16] + b"\xff" * 16 + g[32:]), ("tail flipped", g[:-4] + b"\xff\xff\xff\xff"),
            ("appended junk", g + b"junk" * 1000), ("random bytes", bytes(random.Random(3).randrange(256) for _ in range(len(g)))),
        ]
        for name, data in shard_cases:
            p = os.path.join(ddir, "s%03d.tokens" % len(os.listdir(ddir)))
            write(p, data)
            case("data", "token shard " + name + " [inspect]", [simply, "data", "inspect", p, "--count", "1"], "any", [os.path.basename(p)])
            case("data", "token shard " + name + " [train]", train_cmd("--set", "train.steps=2", "--set", "data.dataset=" + p),
                 "refuse" if name != "tail flipped" else "any", [os.path.basename(p)])
    else:
        record("data", "setup: prepare token shard", rp, "accept")

    # ---- 2e. import: safetensors and HF config.json
    part_import(w, case)


def part_import(w, case):
    simply = ARGS.simply
    idir = os.path.join(w, "import")
    os.makedirs(idir, exist_ok=True)
    # a valid HF directory: train 2 steps, export it
    src = os.path.join(idir, "src-run")
    r = run([simply, "train", "--experiment_config", "tiny", "--config_dir", ARGS.config_dir, "--deterministic",
             "--set", "train.steps=2", "--experiment_dir", src], w)
    hf = os.path.join(idir, "hf")
    r2 = run([simply, "export", "--checkpoint", src, hf], w) if r["rc"] == 0 else r
    if r2["rc"] != 0 or not os.path.exists(os.path.join(hf, "model.safetensors")):
        record("import", "setup: export an HF directory", r2, "accept")
        return
    st = read(os.path.join(hf, "model.safetensors"))
    hlen, header, base = safetensors_parse(st)
    cfg = json.loads(read(os.path.join(hf, "config.json")))
    n = [0]

    def imp(name, st_bytes=None, cfg_obj=None, cfg_text=None, extra_args=(), expect="refuse", names=("model.safetensors",), setup=None):
        n[0] += 1
        d = os.path.join(idir, "case%03d" % n[0])
        shutil.copytree(hf, d)
        if st_bytes is not None:
            write(os.path.join(d, "model.safetensors"), st_bytes)
        if cfg_obj is not None:
            write(os.path.join(d, "config.json"), json.dumps(cfg_obj))
        if cfg_text is not None:
            write(os.path.join(d, "config.json"), cfg_text)
        if setup:
            setup(d)
        case("import", name, [simply, "import", d, d + ".out"] + list(extra_args), expect, list(names))
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(d + ".out", ignore_errors=True)

    def with_header(h, data=None):
        hb = json.dumps(h).encode()
        return struct.pack("<Q", len(hb)) + hb + (st[base:] if data is None else data)

    def hmod(fn):
        h = json.loads(json.dumps(header))
        fn(h)
        return with_header(h)
    t0 = [k for k in header if k != "__metadata__"][0]
    t1 = [k for k in header if k != "__metadata__"][1]
    imp("control: valid HF dir", expect="accept", names=())
    imp("header length > file", struct.pack("<Q", len(st) + 100) + st[8:])
    imp("header length 2^64-1", struct.pack("<Q", 2 ** 64 - 1) + st[8:])
    imp("header length 2^63", struct.pack("<Q", 2 ** 63) + st[8:])
    imp("header length 0", struct.pack("<Q", 0) + st[8:])
    imp("file of 7 bytes", st[:7])
    imp("empty file", b"")
    imp("truncated data", st[:base + 1000])
    imp("non-JSON header", struct.pack("<Q", 16) + b"not json at all!" + st[base:])
    imp("header is a JSON array", with_header([1, 2, 3]))
    imp("header deep nesting", struct.pack("<Q", 2000000) + b"[" * 1000000 + b"]" * 1000000 + st[base:])
    imp("header 100 MB claimed, 1 KB present", struct.pack("<Q", 100000000) + b"{" + b" " * 1000)
    imp("dtype garbage", hmod(lambda h: h[t0].__setitem__("dtype", "Q99")))
    imp("dtype F16 (size mismatch)", hmod(lambda h: h[t0].__setitem__("dtype", "F16")))
    imp("dtype BF16", hmod(lambda h: h[t0].__setitem__("dtype", "BF16")))
    imp("shape [2^32,2^32]", hmod(lambda h: h[t0].__setitem__("shape", [2 ** 32, 2 ** 32])))
    imp("shape [2^62,4]", hmod(lambda h: h[t0].__setitem__("shape", [2 ** 62, 4])))
    imp("shape negative", hmod(lambda h: h[t0].__setitem__("shape", [-512, -128])))
    imp("shape transposed", hmod(lambda h: h[t0].__setitem__("shape", list(reversed(h[t0]["shape"])))))
    imp("offsets overflow [2^64-8, 2^64-1]", hmod(lambda h: h[t0].__setitem__("data_offsets", [2 ** 64 - 8, 2 ** 64 - 1])))
    imp("offsets [0, 2^63]", hmod(lambda h: h[t0].__setitem__("data_offsets", [0, 2 ** 63])))
    imp("offsets reversed", hmod(lambda h: h[t0].__setitem__("data_offsets", list(reversed(h[t0]["data_offsets"])))))
    imp("offsets negative", hmod(lambda h: h[t0].__setitem__("data_offsets", [-4, h[t0]["data_offsets"][1]])))
    imp("offsets past end of file", hmod(lambda h: h[t1].__setitem__("data_offsets", [len(st), len(st) + h[t1]["data_offsets"][1] - h[t1]["data_offsets"][0]])))
    imp("overlapping tensors", hmod(lambda h: h[t1].__setitem__("data_offsets", [0, h[t1]["data_offsets"][1] - h[t1]["data_offsets"][0]])), expect="any")
    imp("tensor missing", hmod(lambda h: h.pop(t1)))
    imp("extra unknown tensor", hmod(lambda h: h.__setitem__("evil.weight", {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})), expect="any")
    imp("data_offsets not a list", hmod(lambda h: h[t0].__setitem__("data_offsets", "0-4")))
    imp("__metadata__ garbage", hmod(lambda h: h.__setitem__("__metadata__", [1, 2])), expect="any")
    imp("model.safetensors is a directory", setup=lambda d: (os.remove(os.path.join(d, "model.safetensors")), os.mkdir(os.path.join(d, "model.safetensors"))))
    imp("model.safetensors missing", setup=lambda d: os.remove(os.path.join(d, "model.safetensors")), names=("safetensors",))
    imp("model.safetensors -> /dev/zero", setup=lambda d: (os.remove(os.path.join(d, "model.safetensors")),
                                                           os.symlink("/dev/zero", os.path.join(d, "model.safetensors"))))

    def index(d, weight_map):
        os.remove(os.path.join(d, "model.safetensors"))
        write(os.path.join(d, "model.safetensors.index.json"), json.dumps({"metadata": {}, "weight_map": weight_map}))
    keys = [k for k in header if k != "__metadata__"]
    imp("index.json shard ../../etc/passwd", setup=lambda d: index(d, {k: "../../../../etc/passwd" for k in keys}),
        names=("passwd", "index"))
    imp("index.json shard missing", setup=lambda d: index(d, {k: "model-00001-of-00002.safetensors" for k in keys}),
        names=("model-00001-of-00002",))
    imp("index.json garbage", setup=lambda d: write(os.path.join(d, "model.safetensors.index.json"), b"{{{"), expect="any",
        names=("index",))

    def cmod(**kv):
        c = json.loads(json.dumps(cfg))
        for k, v in kv.items():
            if v is KeyError:
                c.pop(k, None)
            else:
                c[k] = v
        return c
    imp("config.json max_position_embeddings=2^62", cfg_obj=cmod(max_position_embeddings=2 ** 62), expect="any",
        names=("max_position_embeddings",))
    for k, v in [("vocab_size", 10 ** 12), ("hidden_size", 2 ** 62), ("num_hidden_layers", 10 ** 9),
                 ("intermediate_size", 2 ** 62), ("num_attention_heads", 0), ("num_key_value_heads", 3),
                 ("num_attention_heads", 10 ** 9), ("hidden_size", -128), ("vocab_size", "512"), ("hidden_size", 128.5),
                 ("rms_norm_eps", -1), ("rope_theta", "abc"), ("head_dim", 2 ** 40),
                 ("architectures", ["EvilForCausalLM"]), ("tie_word_embeddings", "yes"), ("vocab_size", KeyError),
                 ("hidden_size", None), ("vocab_size", 2 ** 31)]:
        imp("config.json %s=%s" % (k, "missing" if v is KeyError else json.dumps(v)), cfg_obj=cmod(**{k: v}),
            names=("config.json", k), expect="refuse")
    imp("config.json not JSON", cfg_text=b"{{{", names=("config.json",))
    imp("config.json deep nesting", cfg_text=b"[" * 1000000 + b"]" * 1000000, names=("config.json",))
    imp("config.json missing", setup=lambda d: os.remove(os.path.join(d, "config.json")), names=("config.json",))
    imp("--seq_len 1000000000", extra_args=("--seq_len", "1000000000"), names=("seq_len",))
    imp("--seq_len 2^62", extra_args=("--seq_len", str(2 ** 62)), names=("seq_len",))
    imp("--seq_len -1", extra_args=("--seq_len", "-1"), names=("seq_len",))
    imp("--seq_len 0", extra_args=("--seq_len", "0"), names=("seq_len",))
    imp("tokenizer.json garbage", setup=lambda d: write(os.path.join(d, "tokenizer.json"), b"\xff{{"), names=("tokenizer.json",))
    case("import", "hf-dir is a file", [simply, "import", "/etc/passwd", os.path.join(idir, "o1")], "refuse", ["passwd"])
    case("import", "hf-dir missing", [simply, "import", os.path.join(idir, "nope"), os.path.join(idir, "o2")], "refuse", ["nope"])
    case("import", "out is an existing file", [simply, "import", hf, "/etc/passwd"], "refuse", ["passwd"])
    case("import", "export --checkpoint garbage", [simply, "export", "--checkpoint", "/etc", os.path.join(idir, "o3")], "refuse", ["/etc"])


# --------------------------------------------------------------------------
# part 3: two writers

def part_writers():
    LOG("== part 3: two writers")
    simply = ARGS.simply
    w = os.path.join(ARGS.work, "writers")
    shutil.rmtree(w, ignore_errors=True)  # a fresh start when --work is reused
    os.makedirs(w, exist_ok=True)
    d = os.path.join(w, "run")
    steps = ARGS.writer_steps
    logs = os.path.join(ARGS.work, "logs")
    os.makedirs(logs, exist_ok=True)
    cmd1 = [simply, "train", "--experiment_config", "tiny", "--config_dir", ARGS.config_dir, "--deterministic",
            "--set", "train.steps=%d" % steps, "--set", "checkpoint.interval=%d" % max(1, steps // 6), "--experiment_dir", d]
    start = time.monotonic()
    p1 = spawn(cmd1, w, os.path.join(logs, "writer1.out"), os.path.join(logs, "writer1.err"))
    hp = os.path.join(d, "hashes.jsonl")
    latest = os.path.join(d, "checkpoints", "LATEST")
    # wait until the first checkpoint exists (so --resume has something to take)
    while time.monotonic() - start < 240:
        if os.path.exists(latest) or not alive(p1):
            break
        time.sleep(0.1)
    first_alive = alive(p1)
    second = run([simply, "train", "--experiment_dir", d, "--resume", "--deterministic"], w, timeout=ARGS.timeout * 3)
    holder = str(p1)
    res = record("writers", "second writer: train --resume on a live run", second, "refuse", [holder],
                 note="first writer alive when started: %s; holder pid %s" % (first_alive, holder))
    res["names_holder_pid"] = holder in (second["stdout"] + second["stderr"])
    fresh = run([simply, "train", "--experiment_config", "tiny", "--config_dir", ARGS.config_dir, "--deterministic",
                 "--set", "train.steps=%d" % steps, "--experiment_dir", d], w, timeout=ARGS.timeout * 3)
    res = record("writers", "second writer: fresh train into the live run dir", fresh, "refuse", [holder, d])
    res["names_holder_pid"] = holder in (fresh["stdout"] + fresh["stderr"])
    ver = run([simply, "verify", d, "--steps", "5"], w, timeout=ARGS.timeout * 3)
    record("writers", "verify --steps 5 while the run is written", ver, "any", [holder],
           note="a reader: may run or be refused; must not crash or damage the run")
    status, maxrss, hung, end = reap(p1, 600, start)
    rc1 = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    err1 = read(os.path.join(logs, "writer1.err")).decode("utf-8", "replace")
    out1 = read(os.path.join(logs, "writer1.out")).decode("utf-8", "replace")
    r1 = {"cmd": cmd1, "rc": rc1, "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, "hung": hung,
          "wall": round(end - start, 3), "rss_kb": maxrss, "stdout": out1, "stderr": err1}
    res1 = record("writers", "first writer (%d steps) while others ran" % steps, r1, "accept")
    if rc1 != 0 and not (res1["crash"] or res1["hang"]):
        res1["damaged"] = True
        res1.pop("false_refusal", None)
        res1["verdict"] = "DAMAGED"
        LOG("   -> the first writer failed because of the second one")
    # intact?
    try:
        lines = [json.loads(l) for l in read(hp).decode().splitlines() if l.strip()]
        got = [o["step"] for o in lines]
        intact = got == list(range(1, steps + 1))
        ck = sorted(n for n in os.listdir(os.path.join(d, "checkpoints")) if n.startswith("step-"))
        detail = "hashes.jsonl: %d lines, steps %s" % (len(got), "1..%d exactly once" % steps if intact else
                                                       "NOT 1..%d once each (dupes %d, missing %d)" % (
                                                           steps, len(got) - len(set(got)), len(set(range(1, steps + 1)) - set(got))))
        detail += "; checkpoints/: %s" % ", ".join(ck)
    except Exception as e:
        intact, detail = False, "hashes.jsonl unreadable: %r" % e
    v = run([simply, "verify", d], w, timeout=600)
    r = record("writers", "first run intact afterwards? (hashes.jsonl + verify)", v, "accept", note=detail)
    r["hashes_intact"] = intact
    if not intact or v["rc"] != 0:
        r.pop("false_refusal", None)
        r["damaged"] = True  # the second writer was let in and damaged the run
        r["verdict"] = "DAMAGED"
        LOG("   -> the run was damaged by the concurrent writer: %s" % detail)
        if v["rc"] == 0:
            LOG("   -> and `simply verify` passed it")


# --------------------------------------------------------------------------
# part 4: disk full

def part_diskfull():
    LOG("== part 4: disk full")
    simply = ARGS.simply
    w = os.path.join(ARGS.work, "diskfull")
    shutil.rmtree(w, ignore_errors=True)  # a fresh start when --work is reused
    os.makedirs(w, exist_ok=True)
    # reference: the same run on a roomy disk
    ref = os.path.join(w, "ref")
    base_cmd = [simply, "train", "--experiment_config", "tiny", "--config_dir", ARGS.config_dir, "--deterministic",
                "--set", "train.steps=6", "--set", "checkpoint.interval=2"]
    rr = run(base_cmd + ["--experiment_dir", ref], w)
    if rr["rc"] != 0:
        record("diskfull", "setup: reference run", rr, "accept")
        return
    ref_hashes = read(os.path.join(ref, "hashes.jsonl"))
    for size in ("3m", "20m"):
        mnt = os.path.join(w, "fullfs-" + size)
        os.makedirs(mnt, exist_ok=True)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt], stderr=subprocess.PIPE)
        if m.returncode != 0:
            LOG("   cannot mount tmpfs (%s): part 4 skipped" % m.stderr.decode().strip())
            RESULTS.append({"category": "diskfull", "name": "mount tmpfs", "verdict": "skipped",
                            "note": m.stderr.decode().strip(), "crash": False, "hang": False, "silent": False,
                            "refused": False, "rss_kb": 0, "cmd": "mount", "stderr_first": ""})
            return
        try:
            d = os.path.join(mnt, "run")
            r = run(base_cmd + ["--experiment_dir", d], w)
            df = subprocess.run(["df", "-k", "--output=used,avail", mnt], stdout=subprocess.PIPE, universal_newlines=True).stdout
            record("diskfull", "train on a %s tmpfs" % size, r, "refuse", ["No space", "space", "ENOSPC", "full", "errno 28"],
                   note="tmpfs used/avail KB after: %s" % " ".join(df.split("\n")[1].split()))
            # resumable? copy to a roomy place
            moved = os.path.join(w, "moved-" + size)
            if os.path.lexists(moved):
                shutil.rmtree(moved)
            shutil.copytree(d, moved, symlinks=True) if os.path.exists(d) else os.makedirs(moved)
            has_ckpt = os.path.exists(os.path.join(moved, "checkpoints", "LATEST"))
            leftovers = sorted(n for n in (os.listdir(os.path.join(moved, "checkpoints")) if os.path.isdir(os.path.join(moved, "checkpoints")) else []))
            rv = run([simply, "train", "--experiment_dir", moved, "--resume", "--deterministic"], w)
            ok = None
            if rv["rc"] == 0:
                ok = read(os.path.join(moved, "hashes.jsonl")) == ref_hashes
            res2 = record("diskfull", "resume the %s run on a roomy disk" % size, rv, "any" if not has_ckpt else "either",
                          note="complete checkpoint before: %s; checkpoints/: %s; hashes %s" % (
                              has_ckpt, leftovers, {None: "n/a", True: "equal the reference", False: "DIFFER from the reference"}[ok]),
                          accepted_ok=ok)
            res2["resumable"] = rv["rc"] == 0 and ok
            vv = run([simply, "verify", moved], w)
            record("diskfull", "verify the %s run (after the resume attempt)" % size, vv, "any")
        finally:
            subprocess.run(["umount", mnt])


# --------------------------------------------------------------------------

def summarize(out_json):
    cats = []
    for r in RESULTS:
        if r["category"] not in cats:
            cats.append(r["category"])
    rows = []
    hdr = ("category", "cases", "refused", "silent", "crashes", "hangs", "damaged", "recovered", "false refusals", "max RSS MB", "max wall s")
    for c in cats:
        rs = [r for r in RESULTS if r["category"] == c and r.get("verdict") != "skipped"]
        rows.append((c, len(rs), sum(r["refused"] for r in rs), sum(r["silent"] for r in rs), sum(r["crash"] for r in rs),
                     sum(r["hang"] for r in rs), sum(bool(r.get("damaged")) for r in rs), sum(r.get("verdict") == "recovered" for r in rs),
                     sum(bool(r.get("false_refusal")) for r in rs),
                     "%.0f" % (max([r["rss_kb"] for r in rs] or [0]) / 1024.0), "%.1f" % max([r.get("wall", 0) for r in rs] or [0])))
    rs = [r for r in RESULTS if r.get("verdict") != "skipped"]
    rows.append(("TOTAL", len(rs), sum(r["refused"] for r in rs), sum(r["silent"] for r in rs), sum(r["crash"] for r in rs),
                 sum(r["hang"] for r in rs), sum(bool(r.get("damaged")) for r in rs), sum(r.get("verdict") == "recovered" for r in rs),
                 sum(bool(r.get("false_refusal")) for r in rs),
                 "%.0f" % (max([r["rss_kb"] for r in rs] or [0]) / 1024.0), "%.1f" % max([r.get("wall", 0) for r in rs] or [0])))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    print()
    print("SUMMARY (%s)" % ARGS.simply)
    print("  ".join(str(h).ljust(wd) for h, wd in zip(hdr, widths)))
    for row in rows:
        print("  ".join(str(x).ljust(wd) for x, wd in zip(row, widths)))
    bad = [r for r in rs if r["crash"] or r["hang"] or r["silent"] or r.get("damaged")]
    print()
    print("FAILURES (%d): crash, hang, silent acceptance, or a run damaged by an admitted second writer" % len(bad))
    for r in bad:
        kind = "HANG" if r["hang"] else "CRASH" if r["crash"] else "SILENT" if r["silent"] else "DAMAGED"
        print("- [%s] %s / %s (rc=%s, %.1fs, %.0f MB)" % (kind, r["category"], r["name"], r["rc"], r.get("wall", 0), r["rss_kb"] / 1024.0))
        print("    $ " + r["cmd"])
        print("    stderr: " + (r["stderr_first"] or "(empty)") + ("" if r["stderr_first"] else "; stdout: " + r.get("stdout_last", ""))
              + ("" if not r.get("note") else "\n    note: " + r["note"]))
        if r.get("crash_site"):
            print("    crash site: " + r["crash_site"])
    soft = [r for r in rs if not (r["crash"] or r["hang"] or r["silent"] or r.get("damaged")) and (
        r.get("false_refusal") or r.get("anomaly") or (r["refused"] and (r.get("names_file") is False or r.get("one_line") is False)))]
    print()
    print("WEAKER FINDINGS (%d): false refusals, or refusals that are not one line / do not name the file or key" % len(soft))
    for r in soft:
        why = []
        if r.get("false_refusal"):
            why.append("refused a valid/benign input")
        if r.get("names_file") is False:
            why.append("does not name the file/key")
        if r.get("one_line") is False:
            why.append("the error is not one line (or not marked 'error:')")
        if r.get("anomaly"):
            why.append(r["anomaly"])
        print("- %s / %s: %s; rc=%s" % (r["category"], r["name"], ", ".join(why), r["rc"]))
        print("    $ " + r["cmd"])
        print("    stderr: " + (r["stderr_first"] or "(empty)"))
    rec = [r for r in rs if r.get("expect") == "either"]
    print()
    print("RECOVERABLE VARIANTS (%d results): a refusal naming the file or a recovery with the right bits are both fine" % len(rec))
    for r in rec:
        if r["crash"] or r["hang"] or r["silent"] or r.get("damaged"):
            what = "FAILED (see above)"
        elif r["refused"]:
            what = "refused: " + (r["stderr_first"] or "(empty)")
        else:
            what = "accepted" + (": " + r["note"] if r.get("note") else "")
        print("- %s / %s -> %s" % (r["category"], r["name"], what[:300]))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"simply": ARGS.simply, "mem_limit_gb": ARGS.mem_limit_gb, "timeout": ARGS.timeout,
                       "summary": [dict(zip(hdr, row)) for row in rows], "results": RESULTS}, f, indent=1)
        print("\nwrote %s" % out_json)
    return 1 if bad else 0


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--simply", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "release", "simply"))
    ap.add_argument("--config_dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs"))
    ap.add_argument("--work", default=None, help="scratch directory (default: a new /tmp/hostile-XXXX, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--json", default=None, help="write every result to this file")
    ap.add_argument("--only", default="ckpt,inputs,writers,diskfull")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--mem_limit_gb", type=float, default=4.0, help="RLIMIT_AS of every child")
    ap.add_argument("--writer_steps", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="only the first few checkpoint variants")
    ARGS = ap.parse_args()
    global SPAWNER
    SPAWNER = Spawner()  # first, while this process is small
    ARGS.simply = os.path.abspath(ARGS.simply)
    ARGS.config_dir = os.path.abspath(ARGS.config_dir)
    if not os.access(ARGS.simply, os.X_OK):
        sys.exit("hostile.py: %s is not an executable" % ARGS.simply)
    import tempfile
    made = ARGS.work is None
    ARGS.work = os.path.abspath(ARGS.work or tempfile.mkdtemp(prefix="hostile-", dir="/tmp"))
    os.makedirs(ARGS.work, exist_ok=True)
    print("hostile.py: %s, scratch %s, timeout %.0fs, RLIMIT_AS %.1f GiB, zstd codec: %s" % (
        ARGS.simply, ARGS.work, ARGS.timeout, ARGS.mem_limit_gb,
        "zstandard" if zstandard else ("zstd CLI" if shutil.which("zstd") else "none")))
    t0 = time.monotonic()
    parts = {"ckpt": part_ckpt, "inputs": part_inputs, "writers": part_writers, "diskfull": part_diskfull}
    for p in ARGS.only.split(","):
        try:
            parts[p.strip()]()
        except Exception as e:
            import traceback
            traceback.print_exc()
            LOG("   part %s aborted by a harness error: %r" % (p, e))
    print("\nelapsed %.0f s" % (time.monotonic() - t0))
    rc = summarize(ARGS.json)
    if made and not ARGS.keep:
        shutil.rmtree(ARGS.work, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
