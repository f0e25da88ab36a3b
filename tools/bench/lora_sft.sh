#!/usr/bin/env bash
# LoRA SFT against full SFT on the built-in arithmetic task: the README's
# walkthrough data (2-digit addition, 4000 training demonstrations, 300
# held-out prompts), then `tiny_sft` for the same number of steps in full and
# with LoRA adapters (rank R on all seven linear layers), each evaluated by
# greedy exact match on the held-out prompts.
#
# Both start from the same instruction-tuned base, as LoRA is used: `tiny`
# pre-trained for its 200 steps, then 600 steps of full SFT on another
# built-in task (string reversal), so the base has seen the chat template's
# bytes. (From `tiny` itself LoRA stalls at loss 1.8 while full SFT reaches
# 0.2: '<', '|' and '_' never occur in the built-in corpus, their tied
# embeddings are untrained, and frozen embeddings cannot learn them.)
#
#   bash tools/bench/lora_sft.sh            # STEPS=3000 RANK=16 ALPHA=32 LORA_LR=0.004
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
LORA_LR=${LORA_LR:-0.004}
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
[ -f "$OUT/reverse-train.ex" ] || {
  "$SIMPLY" data generate --task reversal --count 4000 --format alpaca --output "$OUT/reverse-train.jsonl" > /dev/null
  "$SIMPLY" data prepare "$OUT/reverse-train.jsonl" --output "$OUT/reverse-train.ex" > /dev/null
}
[ -f "$OUT/instruct/checkpoints/LATEST" ] || "$SIMPLY" train --experiment_config tiny_sft --load_checkpoint "$OUT/tiny" \
  --set "data.dataset=$OUT/reverse-train.ex" --set train.steps=600 --deterministic --threads "$THREADS" --experiment_dir "$OUT/instruct" > "$OUT/instruct.log" 2>&1
common=(--experiment_config tiny_sft --load_checkpoint "$OUT/instruct" --set "data.dataset=$OUT/add-train.ex" --set "train.steps=$STEPS")
run "$OUT/full" "${common[@]}"
LORA_MIN=$(python3 -c "print($LORA_LR/10)")
run "$OUT/lora" "${common[@]}" --set "lora.rank=$RANK" --set "lora.alpha=$ALPHA" --set "train.lr=$LORA_LR" --set "train.min_lr=$LORA_MIN"
{
  echo "| model | trained parameters | held-out exact match (300) |"
  echo "| --- | --- | --- |"
  for r in instruct full lora; do
    em=$("$SIMPLY" eval generate --checkpoint "$OUT/$r" --data "$OUT/add-test.ex" --threads "$THREADS" | grep -o 'exact_match [0-9.]* ([0-9]*/[0-9]*)' | head -1)
    params=$(grep -o '[0-9]* \(trained \)\?parameters' "$OUT/$r.log" | head -1)
    echo "| $r | $params | $em |"
  done
} > "$OUT/results.md"
cat "$OUT/results.md"
