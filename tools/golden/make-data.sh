#!/usr/bin/env bash
# Writes golden/data/: the small datasets and the distillation teacher that the
# post-training golden runs (golden/runs/{sft,dpo,reward,grpo,grpo-mu2,ppo,distill}.json)
# train on. They are checked in, so the goldens pin the training code alone;
# run this only when the data formats themselves change (it moves every
# post-training golden), then tools/update-golden.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIMPLY=${SIMPLY:-.build/release/simply}
[ -x "$SIMPLY" ] || swift build -c release --product simply >/dev/null
out=golden/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

gen() { "$SIMPLY" data generate --max_digits 2 --seed 7 --conversational "$@" > /dev/null; }
gen --task addition --count 32 --format alpaca --output "$tmp/sft.jsonl"
gen --task addition --count 32 --format preference --output "$tmp/pref.jsonl"
gen --task addition --count 32 --format prompt_only --output "$tmp/prompts.jsonl"
for f in sft pref prompts; do "$SIMPLY" data prepare "$tmp/$f.jsonl" --output "$out/$f.ex" > /dev/null; done

# The teacher: 2 steps of a one-layer model with the byte vocabulary of the tiny configs.
rm -rf "$tmp/teacher"
"$SIMPLY" train --experiment_config tiny --experiment_dir "$tmp/teacher" --deterministic --threads 2 \
  --set model.d_model=16 --set model.n_layers=1 --set model.n_heads=2 --set model.n_kv_heads=1 --set model.d_ff=32 \
  --set model.seq_len=128 --set train.steps=2 --set train.batch_size=2 --set data.synthetic_bytes=20000 \
  --set checkpoint.interval=2 > /dev/null
rm -rf "$out/teacher"
mkdir -p "$out/teacher/checkpoints"
cp "$tmp/teacher/config.json" "$out/teacher/"
cp -r "$tmp/teacher/checkpoints/step-00000002" "$tmp/teacher/checkpoints/LATEST" "$out/teacher/checkpoints/"
du -sh "$out"/*
