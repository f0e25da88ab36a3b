#!/usr/bin/env bash
# LoRA SFT against full SFT on the built-in arithmetic task: the README's
# walkthrough (`tiny` pre-trained for its 200 steps; 2-digit addition, 4000
# training demonstrations in the chat template, 300 held-out prompts), then
# `tiny_sft` for the same number of steps three ways, each evaluated by
# greedy exact match on the held-out prompts:
#   full        every parameter (the README's tiny_sft)
#   lora        adapters (rank R, all seven linear layers) + the embeddings trained
#               in full (lora.modules_to_save=embed_tokens; tied, so the LM head too)
#   lora_plain  adapters alone
# `tiny`'s built-in corpus never has '<', '|', '_' or the end-of-sequence
# token, which the chat template's markers are made of: their embeddings are
# untrained, and frozen embeddings cannot learn them (lora_plain stalls).
#
#   bash tools/bench/lora_sft.sh            # STEPS=3000 RANK=16 ALPHA=32 LORA_LR=0.002
#
# Environment: SIMPLY (the binary), THREADS (never changes a bit), OUT
# (runs/lora-sft), STEPS, RANK, ALPHA, LORA_LR (the adapters' peak learning
# rate; min_lr is a tenth of it). Writes $OUT/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIMPLY=${SIMPLY:-.build/release/simply}
THREADS=${THREADS:-2}
OUT=${OUT:-runs/lora-sft}
STEPS=${STEPS:-3000}
RANK=${RANK:-16}
ALPHA=${ALPHA:-32}
LORA_LR=${LORA_LR:-0.002}
mkdir -p "$OUT"
run() { local dir=$1; shift; [ -f "$dir/checkpoints/LATEST" ] && grep -q "\"step\":$STEPS" "$dir/hashes.jsonl" 2>/dev/null && return 0
        "$SIMPLY" train "$@" --deterministic --threads "$THREADS" --experiment_dir "$dir" > "$dir.log" 2>&1 || { echo "failed: $dir (see $dir.log)"; exit 1; }; }
[ -f "$OUT/add-train.ex" ] || {
  "$SIMPLY" data generate --task addition --max_digits 2 --count 4000 --format alpaca --output "$OUT/add-train.jsonl" > /dev/null
  "$SIMPLY" data generate --task addition --max_digits 2 --count 300 --split test --format prompt_only --conversational --output "$OUT/add-test.jsonl" > /dev/null
  "$SIMPLY" data prepare "$OUT/add-train.jsonl" --output "$OUT/add-train.ex" > /dev/null
  "$SIMPLY" data prepare "$OUT/add-test.jsonl" --output "$OUT/add-test.ex" > /dev/null
}
[ -f "$OUT/tiny/checkpoints/LATEST" ] || "$SIMPLY" train --experiment_config tiny --deterministic --threads "$THREADS" --experiment_dir "$OUT/tiny" > "$OUT/tiny.log" 2>&1
common=(--experiment_config tiny_sft --load_checkpoint "$OUT/tiny" --set "data.dataset=$OUT/add-train.ex" --set "train.steps=$STEPS")
run "$OUT/full" "${common[@]}"
LORA_MIN=$(awk "BEGIN { print $LORA_LR / 10 }")
lora=(--set "lora.rank=$RANK" --set "lora.alpha=$ALPHA" --set "train.lr=$LORA_LR" --set "train.min_lr=$LORA_MIN")
run "$OUT/lora" "${common[@]}" "${lora[@]}" --set lora.modules_to_save=embed_tokens
run "$OUT/lora_plain" "${common[@]}" "${lora[@]}"
{
  echo "| model | trained parameters | held-out exact match (300) |"
  echo "| --- | --- | --- |"
  for r in full lora lora_plain; do
    em=$("$SIMPLY" eval generate --checkpoint "$OUT/$r" --data "$OUT/add-test.ex" --threads "$THREADS" | grep -o 'exact_match [0-9.]* ([0-9]*/[0-9]*)' | head -1)
    params=$(grep -o '[0-9]* \(trained \)\?parameters' "$OUT/$r.log" | head -1)
    echo "| $r | $params | $em |"
  done
} > "$OUT/results.md"
cat "$OUT/results.md"
