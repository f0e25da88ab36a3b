#!/usr/bin/env bash
# The arithmetic post-training recipe: does RL with a verifier, or DPO on the
# model's own pairs, add skill that more SFT on the same demonstrations does not?
#
#   bash tools/recipes/arithmetic.sh                  # TASK=addition
#   TASK=multiplication bash tools/recipes/arithmetic.sh
#
# Stages, each a normal run directory under runs/recipe-$TASK/ (deterministic,
# resumable, `simply verify`-able):
#   pretrain     tiny on the built-in corpus
#   sft          on DEMOS demonstrations (written by a careless annotator: a
#                fraction FLAW of the answers are off by one), until it stops improving
#   grpo         from sft, on plentiful fresh prompts, rewarded by the verifier
#   dpo          from sft, DPO + RPO on pairs of its own samples (a right one over a wrong one)
#   sft_control  from sft, more SFT on the same demonstrations, as long as grpo ran
# then every stage is evaluated on TEST prompts of the held-out split (greedy
# exact match, numeric match, pass@8) and grpo at every checkpoint.
#
# Re-running skips finished stages and resumes an interrupted one; a failed
# stage stops the recipe with one line naming it and its log.
#
# Environment: TASK (addition | multiplication | sorting; sorting is not measured yet, and
# --off_by_one leaves its answers as they are), TEST_SEED (generator
# seed of the held-out prompts, 1000), SIMPLY (the binary, .build/release/simply),
# THREADS (2; never changes a bit), OUT (runs/recipe-$TASK).
# Writes $OUT/results.json, $OUT/results.md, $OUT/grpo_curve.jsonl and
# $OUT/grpo_curve.svg (reward and held-out accuracy over the GRPO steps).
set -euo pipefail
cd "$(dirname "$0")/../.."

TASK=${TASK:-addition}
TEST_SEED=${TEST_SEED:-1000}
SIMPLY=${SIMPLY:-.build/release/simply}
THREADS=${THREADS:-2}
OUT=${OUT:-runs/recipe-$TASK}

# The recipe's numbers (docs/posttraining/recipe.md says how they were chosen); each can be set
# from the environment, e.g. SFT_STEPS=3000 OUT=runs/recipe-sft3000 bash tools/recipes/arithmetic.sh.
DEMOS=${DEMOS:-600}            # demonstrations for SFT
FLAW=${FLAW:-0.5}             # fraction of them whose answer is off by one
TEST=${TEST:-500}             # held-out prompts
PRETRAIN_STEPS=${PRETRAIN_STEPS:-200}
SFT_STEPS=${SFT_STEPS:-7000}       # SFT on the demonstrations (lr 1e-3 -> 1e-4): held-out accuracy has stopped rising (docs/posttraining/recipe.md)
GRPO_STEPS=${GRPO_STEPS:-500}       # 8 prompts x G = 8 completions per step
CONTROL_STEPS=${CONTROL_STEPS:-4000}   # more SFT on the demonstrations: about GRPO's wall time (the results print both)
DPO_PROMPTS=${DPO_PROMPTS:-2000}     # prompts sampled for DPO's pairs (8 samples each, temperature 1)
DPO_STEPS=${DPO_STEPS:-300}
EVAL_EVERY=50        # GRPO checkpoints evaluated for the curve

case "$TASK" in
  addition|multiplication) SEQ_LEN=96;  MAX_NEW=16 ;;
  sorting)                 SEQ_LEN=128; MAX_NEW=32 ;;
  *) echo "recipe: TASK=$TASK is not one of addition, multiplication, sorting" >&2; exit 2 ;;
esac

if [ ! -x "$SIMPLY" ]; then
  [ "$SIMPLY" = .build/release/simply ] || { echo "recipe: SIMPLY=$SIMPLY is not an executable" >&2; exit 2; }
  bash tools/setup.sh
fi
mkdir -p "$OUT/logs" "$OUT/data" "$OUT/eval"
S() { "$SIMPLY" "$@"; }

# same_settings NAME COMMAND...: a stage already started must have been started with this command
# (else its results would belong to other settings).
same_settings() {
  local name=$1; shift
  local want="$*" file="$OUT/logs/$name.cmd"
  if [ -e "$file" ] && [ "$(cat "$file")" != "$want" ]; then
    echo "recipe: stage $name in $OUT was run with other settings ($file); remove $OUT to start again" >&2
    exit 1
  fi
  printf '%s' "$want" > "$file"
}

# run_stage NAME COMMAND...: runs once; the log is $OUT/logs/NAME.log.
run_stage() {
  local name=$1; shift
  local log="$OUT/logs/$name.log"
  [ "$name" = "${resuming:-}" ] || same_settings "$name" "$@"
  if [ -e "$OUT/logs/$name.done" ]; then echo "recipe: $name: done already (skipped)"; return; fi
  echo "recipe: $name ..."
  local start=$SECONDS
  if ! "$@" > "$log" 2>&1; then
    echo "recipe: stage $name failed; log: $log ($(grep -m1 -i 'error' "$log" || tail -n1 "$log"))" >&2
    exit 1
  fi
  if [ -n "${resuming:-}" ] && ! finished "$OUT/$name"; then
    echo "recipe: stage $name stopped before its last step; log: $log (run the recipe again to resume it)" >&2
    exit 1
  fi
  echo $((SECONDS - start)) > "$OUT/logs/$name.seconds"
  touch "$OUT/logs/$name.done"
}

# finished RUN_DIR: the run has recorded its last step (a run stopped by SIGTERM exits 0 after a
# checkpoint: it is resumable, not finished).
finished() {
  local want have
  want=$(sed -n 's/^    "steps": \([0-9]*\),\{0,1\}$/\1/p' "$1/config.json" | head -n1)
  have=$(grep -c '"step"' "$1/hashes.jsonl" 2>/dev/null || true)
  [ -n "$want" ] && [ "$have" = "$want" ]
}

# train_stage NAME ARGS...: a training run in $OUT/NAME, resumed if a previous attempt was cut short.
train_stage() {
  local name=$1; shift
  local fresh=(S train "$@" --deterministic --threads "$THREADS" --experiment_dir "$OUT/$name")
  same_settings "$name" "${fresh[@]}"
  if [ -e "$OUT/$name/config.json" ] && [ ! -e "$OUT/logs/$name.done" ]; then
    resuming=$name run_stage "$name" S train --experiment_dir "$OUT/$name" --resume --threads "$THREADS"
  else
    resuming=$name run_stage "$name" "${fresh[@]}"
  fi
}

data() {
  local d=$OUT/data
  S data generate --task "$TASK" --max_digits 2 --count "$DEMOS" --format alpaca --off_by_one "$FLAW" --output "$d/demos.jsonl"
  S data generate --task "$TASK" --max_digits 2 --count 20000 --format prompt_only --conversational --output "$d/prompts.jsonl"
  S data generate --task "$TASK" --max_digits 2 --count "$DPO_PROMPTS" --format prompt_only --conversational --seed 2 --output "$d/dpo-prompts.jsonl"
  S data generate --task "$TASK" --max_digits 2 --count "$TEST" --split test --seed "$TEST_SEED" --format prompt_only --conversational --output "$d/test.jsonl"
  for f in demos prompts test; do S data prepare "$d/$f.jsonl" --output "$d/$f.ex"; done
}

common=(--set model.seq_len="$SEQ_LEN" --set checkpoint.keep_last=100)
run_stage data data
train_stage pretrain --experiment_config tiny --set train.steps=$PRETRAIN_STEPS
train_stage sft --experiment_config tiny_sft --load_checkpoint "$OUT/pretrain" "${common[@]}" \
  --set data.dataset="$OUT/data/demos.ex" --set train.steps=$SFT_STEPS --set train.lr=1e-3 --set train.min_lr=1e-4 \
  --set checkpoint.interval=500
train_stage grpo --experiment_config tiny_grpo --load_checkpoint "$OUT/sft" "${common[@]}" \
  --set data.dataset="$OUT/data/prompts.ex" --set train.steps=$GRPO_STEPS --set train.lr=1e-4 --set train.min_lr=5e-5 \
  --set grpo.beta=0 --set grpo.max_completion_length=$MAX_NEW --set checkpoint.interval=$EVAL_EVERY
train_stage sft_control --experiment_config tiny_sft --load_checkpoint "$OUT/sft" "${common[@]}" \
  --set data.dataset="$OUT/data/demos.ex" --set train.steps=$CONTROL_STEPS --set train.lr=1e-3 --set train.min_lr=1e-4 \
  --set train.seed=1338 --set checkpoint.interval=500
run_stage dpo_pairs S data preferences --checkpoint "$OUT/sft" --prompts "$OUT/data/dpo-prompts.jsonl" \
  --samples 8 --temperature 1 --max_new_tokens $MAX_NEW --threads "$THREADS" --output "$OUT/data/dpo-pairs.jsonl"
run_stage dpo_prepare S data prepare "$OUT/data/dpo-pairs.jsonl" --output "$OUT/data/dpo-pairs.ex"
train_stage dpo --experiment_config tiny_dpo --load_checkpoint "$OUT/sft" "${common[@]}" \
  --set data.dataset="$OUT/data/dpo-pairs.ex" --set train.steps=$DPO_STEPS --set train.lr=1e-4 --set train.min_lr=1e-5 \
  --set dpo.beta=0.1 --set dpo.rpo_alpha=1 --set checkpoint.interval=100

# Evaluation: greedy exact and numeric match, and pass@8 at temperature 1 (seed 0).
evaluate() {  # evaluate NAME CHECKPOINT
  S eval generate --checkpoint "$2" --data "$OUT/data/test.ex" --max_new_tokens $MAX_NEW --samples 8 --k 1,8 \
    --threads "$THREADS" --out "$OUT/eval/$1.json"
}
for stage in pretrain sft sft_control grpo dpo; do run_stage "eval_$stage" evaluate "$stage" "$OUT/$stage"; done
curve() {
  : > "$OUT/eval/grpo_curve.tmp"
  for step in $(seq 0 $EVAL_EVERY $GRPO_STEPS); do
    local ckpt=$OUT/grpo/checkpoints/step-$(printf %08d "$step")
    [ "$step" -gt 0 ] || ckpt=$OUT/sft
    # The ends are the sft and grpo stages, evaluated already (the same greedy numbers).
    if [ "$step" -eq 0 ]; then cp "$OUT/eval/sft.json" "$OUT/eval/grpo-0.json"
    elif [ "$step" -eq "$GRPO_STEPS" ]; then cp "$OUT/eval/grpo.json" "$OUT/eval/grpo-$step.json"
    else S eval generate --checkpoint "$ckpt" --data "$OUT/data/test.ex" --max_new_tokens $MAX_NEW --threads "$THREADS" \
      --out "$OUT/eval/grpo-$step.json" > /dev/null
    fi
    printf '{"step":%d,"heldout/exact_match":%s,"heldout/numeric_match":%s}\n' "$step" \
      "$(field exact_match "$OUT/eval/grpo-$step.json")" "$(field numeric_match "$OUT/eval/grpo-$step.json")" >> "$OUT/eval/grpo_curve.tmp"
  done
  mv "$OUT/eval/grpo_curve.tmp" "$OUT/grpo_curve.jsonl"
}
# field KEY FILE: a top-level number of an eval JSON (sorted keys, two-space indent).
field() { sed -n "s/^  \"$1\": \([-0-9.e+]*\),\{0,1\}\$/\1/p" "$2"; }
pass8() { sed -n '/"pass_at_k"/,/}/s/^    "8": \([-0-9.e+]*\),\{0,1\}$/\1/p' "$1"; }
run_stage grpo_curve curve

# The table: results.json (per stage: run directory, held-out exact_match,
# numeric_match, pass_at_8, wall seconds of its training) and results.md.
stages=(pretrain sft sft_control grpo dpo)
held_out=$(field prompts "$OUT/eval/sft.json")   # fewer than TEST when the task has fewer distinct test prompts
json="{\n  \"task\": \"$TASK\",\n  \"test_seed\": $TEST_SEED,\n  \"test_prompts\": $held_out,\n  \"demonstrations\": $DEMOS,\n  \"demonstrations_off_by_one\": $FLAW,\n  \"stages\": {"
md="| stage | run | held-out exact match | numeric match | pass@8 | training wall time |\n| --- | --- | --- | --- | --- | --- |"
sep=""
for stage in "${stages[@]}"; do
  e=$OUT/eval/$stage.json
  exact=$(field exact_match "$e"); numeric=$(field numeric_match "$e"); p8=$(pass8 "$e")
  secs=$(cat "$OUT/logs/$stage.seconds" 2>/dev/null || echo 0)
  json+="$sep\n    \"$stage\": {\"run\": \"$OUT/$stage\", \"exact_match\": $exact, \"numeric_match\": $numeric, \"pass_at_8\": $p8, \"train_seconds\": $secs}"
  sep=","
  md+="\n| $stage | \`$OUT/$stage\` | $(awk -v x="$exact" 'BEGIN{printf "%.1f%%", 100*x}') | $(awk -v x="$numeric" 'BEGIN{printf "%.1f%%", 100*x}') | $(awk -v x="$p8" 'BEGIN{printf "%.3f", x}') | ${secs} s |"
done
json+="\n  }\n}\n"
printf '%b' "$json" > "$OUT/results.json.tmp" && mv "$OUT/results.json.tmp" "$OUT/results.json"
printf '%b\n' "$md" > "$OUT/results.md"
S plot "$OUT/grpo" --add "$OUT/grpo_curve.jsonl" --metrics reward,heldout/exact_match,heldout/numeric_match \
  --out "$OUT/grpo_curve.svg" > /dev/null
echo
echo "recipe $TASK: $held_out held-out prompts (test split, seed $TEST_SEED); $DEMOS demonstrations, $FLAW of them off by one"
cat "$OUT/results.md"
echo "wrote $OUT/results.json, $OUT/results.md, $OUT/grpo_curve.jsonl, $OUT/grpo_curve.svg"
