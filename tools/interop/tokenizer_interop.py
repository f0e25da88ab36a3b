#!/usr/bin/env python3
"""Byte-level BPE interop between Simply and Hugging Face `tokenizers`.

    python tools/interop/tokenizer_interop.py PATH/TO/simply [--golden golden/tokenizer] [--check]

Needs `pip install tokenizers` (PyPI) in whatever Python runs it. It:
  (a) trains a byte-level BPE with Python `tokenizers` on golden/tokenizer/corpus.txt
      and saves it as hf-trained.json;
  (b) runs `simply tokenizer train` on the same corpus with the same settings
      (vocab 600, min_frequency 2) -> simply-trained.json, and loads it in Python;
  (c) writes expected-ids.json: for each fixed test string, the ids Python
      `tokenizers` gives with hf-trained.json and with simply-trained.json, and
      expected-decode.json: Python's text for fixed random id sequences;
  (d) runs `simply tokenizer encode` with both files and compares with (c).
Prints OK or the mismatches; exits 1 on any mismatch. With --check nothing in
golden/ is rewritten: the committed files are used and compared instead.

Extra checks that write nothing to golden/:
  --fuzz N     N random strings mixing scripts, marks, number kinds, emoji and
               every kind of whitespace, encoded by Python and Simply with both files;
  --big FILE   trains both sides on FILE (vocab --big_vocab, default 8192) and
               compares every line of FILE encoded by Python and Simply with both.

The Swift tests (Tests/SimplyDataTests/BPETokenizerTests.swift) read these
goldens; Python is never needed to run them. The test strings contain no
special-token text: HF's `encode` would match "<|eos|>" as a special, Simply's
never does (see Tokenizer.encode).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]  # SpecialTokens.all
VOCAB_SIZE = 600
MIN_FREQUENCY = 2

TEST_STRINGS = [
    "Hello, world! This is a simple test of the tokenizer.",
    "The loss fell from 10.83 to 2.17 after 42,000 steps in 2024.",
    "1234567890 3.14159 1e-10 0x1F $19.99 +1 (555) 010-7788",
    "Wait!!! What??? ... --- *** ((())) <<>> ||| ;;",
    "a  b   c    d\n\ne\n\n\nf",
    "\tindented\twith\ttabs\t\t\n\t x",
    "don't I'll we've she's they're I'd I'm DON'T It'S 'tis",
    "' 's ''s \u2019s rock'n'roll",
    "naïve café résumé jalapeño Größe Straße coöperate",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία",
    "Съешь же ещё этих мягких французских булок",
    "敏捷的棕色狐狸跳过了懒狗。東京は日本の首都です。다람쥐 헌 쳇바퀴",
    "Emoji 🙂👍🏽 🎉🎉 👩\u200d💻 🇫🇷! ❤️",
    "Mixed: English, Ελληνικά, Русский, 日本語, العربية, हिन्दी 123.",
    "  leading spaces",
    "trailing whitespace\n\n",
    "   ",
    "\n",
    "",
    "x \n y \t z\r\nw",
    "\u00a0non-breaking\u2009thin\u3000ideographic\u2028line\u0085nel space",
    "combining e\u0301 and precomposed \u00e9; zero width\u200bspace\ufeff",
    "\u0000\u0001 control \u007f chars \u001b[0m",
    "numbers of all kinds: 1½ ⅷ ① ² ٣ ४ 𝟙",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ================ ..........",
    "Zyzzyva quixotic xylophone, pneumonoultramicroscopicsilicovolcanoconiosis",
    "\U0001F600\U0001F600 \U00010348 \U0001D11E \uE000 \uFFFD",
    "The model replayed the run from its config and printed the hash. It matched, bit for bit.\n"
    "The researcher smiled. \"That's what I needed. Now let's find the bug that broke step 1,235.\"\n",
    "    for i in range(10):\n        print(i * i)  # squares\n",
    "SELECT name, count(*) FROM runs WHERE loss < 2.5; https://example.com/a?b=c&d=42#x",
    # Long pre-tokens (more than 64 bytes take Simply's heap-based merge path).
    "的一是不了人我在有他这中大来上日本語東京" * 30,
    "Thequickbrownfoxjumpsoverthelazydogandthemodelreplayedtherun" * 8,
    "a" * 300 + " " + "=" * 130 + " " * 70 + "x",
    "aGVsbG8gd29ybGQsIHRoaXMgaXMgYmFzZTY0" * 6,
]


def train_hf(corpus: str, vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=MIN_FREQUENCY, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # The whole corpus is one sequence, as `simply tokenizer train` reads a text file.
    tok.train_from_iterator([corpus], trainer=trainer)
    return tok


def simply_encode(simply: str, tokenizer_path: str, text: str) -> list:
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(text.encode("utf-8"))
        path = f.name
    try:
        out = subprocess.run([simply, "tokenizer", "encode", "--tokenizer", tokenizer_path, path],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return [int(x) for x in out.split()]


FUZZ_POOLS = [
    (30, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    (12, " "),
    (6, "0123456789"),
    (6, ".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`\"'"),
    (4, "'"),
    (3, ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't"]),
    (6, "\t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"),
    (2, "\u180e\u200b\u200c\u200d\u2060\ufeff"),  # not White_Space
    (8, "àéîõüçñßøåæœÀÉÎÕÜÇÑ" "αβγδεζηθλμπσςωΑΒΓΔ" "абвгдежзийклмнЖЗИЙ" "אבגדה" "ابتثجحخ"),
    (6, "的一是不了人我在有他这中大来上日本語東京" "ぁあいうえおかきくけこ" "アイウエオカキ" "가나다라마바사" "กขฃคฅฆง"),
    (3, "\u0301\u0308\u0327\u093f\u094d\u0e31\u0e34\u05b7\u064b"),  # combining marks (M*, not L)
    (3, "ʰʲˆˇˈːˑ々ー"),  # modifier letters (Lm)
    (3, "²³¹¼½¾ⅠⅡⅫⅷ①②⑳٠١٢٣०१२३߀𝟘𝟙𝟚"),
    (4, ["🙂", "😀", "👍🏽", "👩\u200d💻", "🇫🇷", "❤️", "🎉", "™", "€", "∑", "→", "•", "…", "©", "\ufffd"]),
    (2, "\x00\x01\x07\x1b\x1f\x7f\x80\x9f\xad"),
    (1, "\ue000\U000f0000\U0001d11e\U00010348\U00020000\u0378\U000e0001"),
]


def fuzz_strings(n: int, seed: int = 1234) -> list:
    rng = random.Random(seed)
    weights = [w for w, _ in FUZZ_POOLS]
    out = []
    for _ in range(n):
        if rng.random() < 0.1:  # one long pre-token
            pool = rng.choice([FUZZ_POOLS[0][1], FUZZ_POOLS[8][1], FUZZ_POOLS[9][1]])
            out.append("".join(rng.choice(pool) for _ in range(rng.randint(60, 400))))
            continue
        parts = []
        for _ in range(rng.randint(1, 40)):
            pool = rng.choices(FUZZ_POOLS, weights)[0][1]
            parts.append(rng.choice(pool) * (rng.randint(1, 4) if rng.random() < 0.2 else 1))
        out.append("".join(parts))
    return out


def simply_encode_many(simply: str, tokenizer_path: str, texts: list) -> list:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        path = f.name
    try:
        out = subprocess.run([simply, "tokenizer", "encode", "--tokenizer", tokenizer_path, "--jsonl", path],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    lines = out.split("\n")[:-1]
    return [[int(x) for x in line.split()] for line in lines]


def compare_many(simply: str, label: str, paths: dict, texts: list) -> int:
    failures = 0
    for key, path in paths.items():
        t = Tokenizer.from_file(path)
        want = [e.ids for e in t.encode_batch(texts, add_special_tokens=False)]
        got = simply_encode_many(simply, path, texts)
        bad = [i for i in range(len(texts)) if i >= len(got) or got[i] != want[i]]
        if len(got) != len(texts):
            print(f"MISMATCH  {label} {key}: simply printed {len(got)} lines for {len(texts)} texts")
        for i in bad[:5]:
            print(f"MISMATCH  {label} {key} {texts[i]!r}\n  python {want[i]}\n  simply {got[i] if i < len(got) else None}")
        print(("OK" if not bad else "MISMATCH") + f"  {label}: simply encode == Python encode with {key} "
              f"({len(texts) - len(bad)}/{len(texts)} texts, {sum(len(w) for w in want)} tokens)")
        failures += len(bad)
    return failures


def compare_decode(simply: str, paths: dict, n: int, seed: int = 99) -> int:
    """Random id sequences (specials included): Simply's decode against Python's
    (skip_special_tokens=False), so invalid UTF-8 handling (U+FFFD) is compared too."""
    failures = 0
    for key, path in paths.items():
        t = Tokenizer.from_file(path)
        rng = random.Random(seed)
        seqs = [[rng.randrange(t.get_vocab_size()) for _ in range(rng.randint(0, 30))] for _ in range(n)]
        want = [t.decode(s, skip_special_tokens=False) for s in seqs]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("".join(" ".join(map(str, s)) + "\n" for s in seqs))
            path_ids = f.name
        try:
            out = subprocess.run([simply, "tokenizer", "decode", "--tokenizer", path, path_ids],
                                 check=True, capture_output=True, text=True).stdout
        finally:
            os.unlink(path_ids)
        got = [json.loads(line) for line in out.split("\n")[:-1]]
        bad = [i for i in range(n) if i >= len(got) or got[i] != want[i]]
        for i in bad[:5]:
            print(f"MISMATCH  decode {key} {seqs[i]}\n  python {want[i]!r}\n  simply {got[i] if i < len(got) else None!r}")
        print(("OK" if not bad else "MISMATCH") + f"  fuzz: simply decode == Python decode with {key} ({n - len(bad)}/{n} id sequences)")
        failures += len(bad)
    return failures


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("simply", help="the built simply binary, e.g. .build/release/simply")
    ap.add_argument("--golden", default=os.path.join(os.path.dirname(__file__), "..", "..", "golden", "tokenizer"))
    ap.add_argument("--check", action="store_true", help="compare against the committed goldens, write nothing")
    ap.add_argument("--fuzz", type=int, default=0, help="also compare N random strings")
    ap.add_argument("--big", help="also train both sides on this text file and compare its lines")
    ap.add_argument("--big_vocab", type=int, default=8192)
    args = ap.parse_args()
    g = os.path.normpath(args.golden)
    corpus_path = os.path.join(g, "corpus.txt")
    hf_path = os.path.join(g, "hf-trained.json")
    simply_path = os.path.join(g, "simply-trained.json")
    expected_path = os.path.join(g, "expected-ids.json")
    with open(corpus_path, encoding="utf-8") as f:
        corpus = f.read()

    failures = 0
    tmp = tempfile.mkdtemp()
    # (a) HF training
    hf = train_hf(corpus)
    if args.check:
        fresh = os.path.join(tmp, "hf-trained.json")
        hf.save(fresh)
        same = open(fresh, "rb").read() == open(hf_path, "rb").read()
        print(("OK" if same else "MISMATCH") + "  Python retraining reproduces hf-trained.json")
        failures += not same
        hf = Tokenizer.from_file(hf_path)
    else:
        hf.save(hf_path)
    # (b) Simply training, loaded by Python
    target = os.path.join(tmp, "simply-trained.json") if args.check else simply_path
    subprocess.run([args.simply, "tokenizer", "train", corpus_path, "--vocab_size", str(VOCAB_SIZE),
                    "--min_frequency", str(MIN_FREQUENCY), "--out", target], check=True)
    if args.check:
        same = open(target, "rb").read() == open(simply_path, "rb").read()
        print(("OK" if same else "MISMATCH") + "  simply tokenizer train reproduces simply-trained.json")
        failures += not same
    st = Tokenizer.from_file(simply_path)
    print(f"hf-trained: vocab {hf.get_vocab_size()}, simply-trained: vocab {st.get_vocab_size()}")

    # (c) expected ids from Python
    records = []
    for s in TEST_STRINGS:
        rec = {"text": s,
               "hf_trained": hf.encode(s, add_special_tokens=False).ids,
               "simply_trained": st.encode(s, add_special_tokens=False).ids}
        for key, t in (("hf_trained", hf), ("simply_trained", st)):
            back = t.decode(rec[key], skip_special_tokens=False)
            if back != s:
                print(f"MISMATCH  Python decode(encode) with {key} of {s!r}: {back!r}")
                failures += 1
        records.append(rec)
    body = "[\n" + ",\n".join(
        "  {" + f"\"text\": {json.dumps(r['text'], ensure_ascii=False)},\n"
        f"   \"hf_trained\": {json.dumps(r['hf_trained'])},\n"
        f"   \"simply_trained\": {json.dumps(r['simply_trained'])}" + "}" for r in records) + "\n]\n"
    if args.check:
        same = body == open(expected_path, encoding="utf-8").read()
        print(("OK" if same else "MISMATCH") + "  expected-ids.json matches Python's ids")
        failures += not same
    else:
        with open(expected_path, "w", encoding="utf-8") as f:
            f.write(body)

    # (c') expected decodes: random id sequences (specials, bytes cut from their
    # characters) and the text Python gives, so Swift tests can check U+FFFD handling.
    decode_body = "{\n"
    for n, (key, t) in enumerate((("hf_trained", hf), ("simply_trained", st))):
        rng = random.Random(7 + n)
        seqs = [[rng.randrange(t.get_vocab_size()) for _ in range(rng.randint(1, 12))] for _ in range(40)]
        for i, sp in enumerate(SPECIALS):  # make sure every special appears
            seqs[i].insert(rng.randrange(len(seqs[i]) + 1), t.token_to_id(sp))
        decode_body += f"  \"{key}\": [\n" + ",\n".join(
            f"    {{\"ids\": {json.dumps(q)}, \"text\": {json.dumps(t.decode(q, skip_special_tokens=False), ensure_ascii=False)}}}"
            for q in seqs) + ("\n  ],\n" if n == 0 else "\n  ]\n")
    decode_body += "}\n"
    decode_path = os.path.join(g, "expected-decode.json")
    if args.check:
        same = decode_body == open(decode_path, encoding="utf-8").read()
        print(("OK" if same else "MISMATCH") + "  expected-decode.json matches Python's decode")
        failures += not same
    else:
        with open(decode_path, "w", encoding="utf-8") as f:
            f.write(decode_body)

    # (d) Simply's own encoding of both files against Python's
    for key, path in (("hf_trained", hf_path), ("simply_trained", simply_path)):
        bad = 0
        for r in records:
            ids = simply_encode(args.simply, path, r["text"])
            if ids != r[key]:
                bad += 1
                print(f"MISMATCH  {key} {r['text']!r}\n  python {r[key]}\n  simply {ids}")
        print(("OK" if bad == 0 else "MISMATCH") + f"  simply encode == Python encode with {key} "
              f"({len(records) - bad}/{len(records)} strings)")
        failures += bad
    if args.fuzz:
        failures += compare_many(args.simply, "fuzz", {"hf_trained": hf_path, "simply_trained": simply_path},
                                 fuzz_strings(args.fuzz))
        failures += compare_decode(args.simply, {"hf_trained": hf_path, "simply_trained": simply_path}, args.fuzz)
    if args.big:
        with open(args.big, encoding="utf-8") as f:
            big = f.read()
        hf_big = os.path.join(tmp, "hf-big.json")
        simply_big = os.path.join(tmp, "simply-big.json")
        t = train_hf(big, args.big_vocab)
        t.save(hf_big)
        subprocess.run([args.simply, "tokenizer", "train", args.big, "--vocab_size", str(args.big_vocab),
                        "--min_frequency", str(MIN_FREQUENCY), "--out", simply_big], check=True)
        lines = [line + "\n" for line in big.split("\n")]
        failures += compare_many(args.simply, "big", {"hf_big": hf_big, "simply_big": simply_big}, lines)
    print("all OK" if failures == 0 else f"{failures} mismatch(es)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
