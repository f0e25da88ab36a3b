#!/usr/bin/env python3
"""A parity corpus for Simply's tokenizer.json support (HFTokenizer): text the
fixtures' tokenizers were not trained on, and the ids Python `tokenizers`
gives for it with every tokenizer kind Simply reads.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tokenizers==0.23.0
    apt-get install -y unicode-data zstd  # emoji-test.txt and the zstd command (the rest is in any Debian install)
    /tmp/venv/bin/python tools/interop/tokenizer_parity.py [OUT_DIR]   # default: golden/hf/tokenizer-parity

The corpus (the families' tokenizers were trained on fortunes, which it does
not use) mixes, from files Debian ships: licenses (/usr/share/common-licenses),
Python sources (/usr/lib/python3.*), man pages, translations (.mo files:
Chinese, Japanese, Korean, Russian, Greek, Arabic, Hindi, German, French),
UnicodeData.txt (digits, hex) and emoji-test.txt (emoji, ZWJ sequences,
skin tones), plus a few written lines with chat markup, special-token
strings, odd whitespace and case-folding traps. It is cut into records of
whole lines (about 2 KB each).

OUT_DIR/:
  corpus.txt.zst              the corpus (UTF-8), zstd-compressed
  KIND/tokenizer.json         the extra kinds (below), written by `tokenizers`
  KIND/tokenizer_config.json  their bos/eos/pad
  ids.bin.zst                 the ids of every record with every kind, zstd-compressed
                              (--long: kinds sharing a vocabulary compress together), all
                              little-endian u32: for each record its byte length and,
                              for each kind in manifest order, n, m, then n ids and m ids:
                              n ids: encode(text, add_special_tokens=False) with
                              encode_special_tokens=True (Simply's default encode);
                              m ids: encode(text, add_special_tokens=True), specials parsed
  manifest.json               the kinds (name and tokenizer.json path from the repository
                              root), the record count, and per kind the records whose
                              decode(n ids) is not the record text, with the SHA-256 of
                              what Python decodes: {"KIND": [[record, sha256 hex], ...]}

Kinds: the families' own tokenizer.json (golden/hf/families: llama3, qwen2 —
qwen3's file is the same —, mistral, smollm2) and these variants built on them:
  llama2-legacy     mistral's vocabulary as Llama 2 publishes it: normalizer
                    Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer,
                    byte fallback, fuse_unk, TemplateProcessing "<s> $A"
  metaspace-digits  mistral's vocabulary behind Sequence[Digits(individual), Metaspace(always, split)]
                    and a Metaspace decoder
  added-flags       llama3 plus added tokens with lstrip / rstrip / single_word /
                    normalized flags, special and not, and TemplateProcessing adding bos
  added-normalized  llama2-legacy plus added tokens matched before and after its normalizer
  unk-fused         mistral's vocabulary without byte fallback: unknown characters become
                    <unk>, runs of them one <unk> (fuse_unk)
  split-behaviors   smollm2's vocabulary behind a regex Replace normalizer and Splits with every
                    behavior (contiguous, merged_with_previous, merged_with_next, removed,
                    isolated inverted), Digits and ByteLevel(add_prefix_space=True)
  qwen2-nfc         qwen2 with the NFC normalizer Qwen 2 publishes
  llama3-nfkc       llama3 with Sequence[NFKC, NFD] (compatibility forms: fullwidth, ligatures)

Running it twice writes byte-identical files.
"""
import gettext
import glob
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys

from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "golden", "hf", "tokenizer-parity")
FAMILIES = os.path.join(ROOT, "golden", "hf", "families")
RECORD = 2048

WRITTEN = """\
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
What's 17 × 23? I'LL check: 391.<|im_end|>
<|im_start|>assistant
<|begin_of_text|><|start_header_id|>user<|end_header_id|>

Hi there<|eot_id|><|end_of_text|><|endoftext|>
<s>[INST] Translate «bonjour» [/INST] hello</s> <unk> <s>
[INST]tight[/INST]   [INST]   spaced   [/INST]
<tool>call(1, 2)</tool>  <tool>  spaced  </tool>x<tool>glued</tool>
License Licensed License. unLicense License_2 (License) LICENSE
return returned  return\treturn( xreturn
New York New  York newyork New York's
GNU GNUs the world  the world
🙂 🙂🙂 a🙂b
DON'T YOU'RE WE'VE THEY'D I'M SHE'LL IT'S it'S iT's 'ſ 'K 'k ’s
tabs\tand\t\ttabs, crlf\r\nline, nbsp\u00a0here, ideographic\u3000space, em\u2003space, nel\u0085x, ls\u2028ps\u2029
trailing spaces   \n   leading spaces
digits 0123456789 ٠١٢٣٤٥٦٧٨٩ १२३ ①②③ Ⅻ ½ ² 3.14159 1,234,567 0xDEADBEEF 1e-9
mixed 数字123和abc混合 カタカナ123 한국어123 Ελληνικά123 Русский123
combining: e\u0301 a\u0308 n\u0303; devanagari: हिन्दी; thai: ภาษาไทย; arabic: العربية
zero width: a\u200bb c\u200dd e\ufeffx; variation: \u2764\ufe0f \u263a\ufe0e
"""


def read(path):
    with open(path, "rb") as h:
        return h.read().decode("utf-8", errors="replace")


def take(texts, limit):
    """Texts in order until `limit` characters."""
    out, n = [], 0
    for t in texts:
        if n >= limit:
            break
        t = t[: limit - n]
        out.append(t)
        n += len(t)
    return "\n".join(out)


def licenses():
    files = sorted(f for f in glob.glob("/usr/share/common-licenses/*") if os.path.isfile(f))
    return take((read(f) for f in files), 200_000)


def python_sources():
    files = sorted(glob.glob("/usr/lib/python3.11/*.py"))
    return take((read(f) for f in files[::7]), 200_000)


def man_pages():
    files = sorted(glob.glob("/usr/share/man/man1/*.1.gz"))
    texts = []
    for f in files[::97]:
        with gzip.open(f, "rb") as h:
            texts.append(h.read().decode("utf-8", errors="replace"))
    return take(texts, 100_000)


def translations(lang, limit):
    texts = []
    for f in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        try:
            with open(f, "rb") as h:
                catalog = gettext.GNUTranslations(h)._catalog
        except Exception:
            continue
        for k in sorted(catalog, key=str):
            v = catalog[k]
            if isinstance(v, str) and v and k:
                texts.append(v)
    return take(texts, limit)


def unicode_data():
    return take([read("/usr/share/unicode/UnicodeData.txt")], 40_000)


def emoji():
    path = "/usr/share/unicode/emoji/emoji-test.txt"
    if not os.path.exists(path):
        sys.exit("no emoji-test.txt: apt-get install -y unicode-data")
    lines = read(path).split("\n")
    return take(["\n".join(lines[i:i + 40]) for i in range(0, len(lines), 160)], 70_000)


def corpus():
    parts = [WRITTEN, licenses(), python_sources(), man_pages()]
    for lang, limit in [("zh_CN", 45_000), ("zh_TW", 20_000), ("ja", 40_000), ("ko", 30_000), ("ru", 20_000),
                        ("el", 10_000), ("ar", 10_000), ("hi", 10_000), ("de", 15_000), ("fr", 15_000)]:
        parts.append(translations(lang, limit))
    parts += [unicode_data(), emoji(), WRITTEN]
    text = "\n".join(parts)
    return text.replace("\x00", "")


def records(text):
    """Whole lines, about RECORD bytes each (a longer line is its own record)."""
    out, cur, size = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        size += len(line.encode("utf-8"))
        if size >= RECORD:
            out.append("".join(cur))
            cur, size = [], 0
    if cur:
        out.append("".join(cur))
    return out


def family(name):
    with open(os.path.join(FAMILIES, name, "tokenizer.json"), encoding="utf-8") as h:
        return json.load(h)


def llama2_legacy():
    j = family("mistral")
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    j["pre_tokenizer"] = None
    j["model"]["fuse_unk"] = True
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    return j


def metaspace_digits():
    j = family("mistral")
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}]}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    return j


def added(j, tokens):
    next_id = max(max(j["model"]["vocab"].values()), max(t["id"] for t in j["added_tokens"])) + 1
    for content, flags in tokens:
        t = {"id": next_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": False}
        t.update(flags)
        j["added_tokens"].append(t)
        next_id += 1
    return j


def added_flags():
    j = added(family("llama3"), [
        ("<tool>", {"lstrip": True}),
        ("</tool>", {"rstrip": True}),
        ("License", {"single_word": True}),
        ("return", {"normalized": True}),
        ("\U0001F642", {}),
        ("<|im_start|>", {"special": True, "rstrip": True}),
        ("<|im_end|>", {"special": True, "lstrip": True, "rstrip": True}),
        ("[INST]", {"special": True, "single_word": True}),
    ])
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0],
                                                                    "tokens": ["<|begin_of_text|>"]}}}
    return j


def added_normalized():
    return added(llama2_legacy(), [
        ("New York", {"normalized": True}),
        ("the world", {"normalized": True, "single_word": True}),
        ("GNU", {"single_word": True}),
        ("[INST]", {"special": True, "lstrip": True, "rstrip": True}),
        ("[/INST]", {"special": True, "lstrip": True}),
        ("<tool>", {"normalized": True, "rstrip": True}),
    ])


def unk_fused():
    j = family("mistral")
    j["model"]["byte_fallback"] = False
    j["model"]["fuse_unk"] = True
    return j


def split_behaviors():
    j = family("smollm2")
    j["normalizer"] = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\t"}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Contiguous", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[,.;:]"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"String": "--"}, "behavior": "Removed", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Isolated", "invert": True},
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]}
    return j


def qwen2_nfc():
    j = family("qwen2")
    j["normalizer"] = {"type": "NFC"}
    return j


def llama3_nfkc():
    j = family("llama3")
    j["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "NFD"}]}
    return j


VARIANTS = {
    "llama2-legacy": (llama2_legacy, {"bos_token": "<s>", "eos_token": "</s>", "pad_token": None}),
    "metaspace-digits": (metaspace_digits, {"bos_token": "<s>", "eos_token": "</s>", "pad_token": None}),
    "added-flags": (added_flags, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": None}),
    "added-normalized": (added_normalized, {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>"}),
    "unk-fused": (unk_fused, {"bos_token": "<s>", "eos_token": "</s>", "pad_token": None}),
    "split-behaviors": (split_behaviors, {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "qwen2-nfc": (qwen2_nfc, {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "llama3-nfkc": (llama3_nfkc, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": None}),
}


def zstd(data, long=False):
    # --stream-size: the frame records its content size (Simply's reader requires it).
    return subprocess.run(["zstd", "-19", "-q", "-c", "--single-thread", f"--stream-size={len(data)}"]
                          + (["--long=27"] if long else []), input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def write(path, data):
    with open(path, "wb") as h:
        h.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    text = corpus()
    recs = records(text)
    assert "".join(recs) == text
    write(os.path.join(OUT, "corpus.txt.zst"), zstd(text.encode("utf-8")))

    kinds = [(name, os.path.join("golden", "hf", "families", name, "tokenizer.json"))
             for name in ["llama3", "qwen2", "mistral", "smollm2"]]
    for name, (build, config) in VARIANTS.items():
        tok = Tokenizer.from_str(json.dumps(build()))
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "tokenizer.json"), (tok.to_str(pretty=True) + "\n").encode("utf-8"))
        write(os.path.join(d, "tokenizer_config.json"),
              (json.dumps(config, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        kinds.append((name, os.path.relpath(os.path.join(d, "tokenizer.json"), ROOT)))
    toks = [Tokenizer.from_file(os.path.join(ROOT, path)) for _, path in kinds]

    out = []
    decodes = {name: [] for name, _ in kinds}
    for i, r in enumerate(recs):
        out.append(struct.pack("<I", len(r.encode("utf-8"))))
        for (name, _), tok in zip(kinds, toks):
            tok.encode_special_tokens = True
            a = tok.encode(r, add_special_tokens=False).ids
            tok.encode_special_tokens = False
            b = tok.encode(r, add_special_tokens=True).ids
            out.append(struct.pack(f"<II{len(a)}I{len(b)}I", len(a), len(b), *a, *b))
            d = tok.decode(a, skip_special_tokens=False)
            if d != r:
                decodes[name].append([i, hashlib.sha256(d.encode("utf-8")).hexdigest()])
    write(os.path.join(OUT, "ids.bin.zst"), zstd(b"".join(out), long=True))
    manifest = {"records": len(recs), "corpus_bytes": len(text.encode("utf-8")),
                "kinds": [{"name": n, "tokenizer": p} for n, p in kinds], "decode_differs": decodes}
    write(os.path.join(OUT, "manifest.json"),
          (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    for name, _ in kinds:
        print(f"{name}: {len(decodes[name])} of {len(recs)} records decode differently")
    print(f"corpus: {len(text.encode('utf-8'))} bytes, {len(text)} characters, {len(recs)} records -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
