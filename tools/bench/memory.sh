#!/usr/bin/env bash
# Issue 27's memory targets, measured by `simply bench` (peak resident memory of the
# training steps, and what the resident buffers hold):
#   small at seq_len 2048 (batch 2, two shards): linear-memory attention   target <= 1.2 GiB
#   the SmolLM2-135M shape with train.checkpoint_activations=layer          target <= 2.6 GiB
#
#   bash tools/bench/memory.sh
#
# Environment: SIMPLY (.build/release/simply), THREADS (2), STEPS (2 measured steps after 1 warm-up).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIMPLY=${SIMPLY:-.build/release/simply}
THREADS=${THREADS:-2}
STEPS=${STEPS:-2}
[ -x "$SIMPLY" ] || { echo "error: $SIMPLY not found (swift build -c release, or set SIMPLY=)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus"
run() {   # name, target GiB, config, --set arguments...
  local name=$1 target=$2 config=$3; shift 3
  "$SIMPLY" bench --experiment_config "$config" --deterministic --threads "$THREADS" --steps "$STEPS" --warmup_steps 1 \
    --kernel_seconds 0 --square 64 --json "$OUT/$name.json" "$@" > "$OUT/$name.txt" 2>&1 \
    || { cat "$OUT/$name.txt" >&2; exit 1; }
  python3 - "$OUT/$name.json" "$name" "$target" <<'PY'
import json, sys
j, name, target = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3])
m = j["memory"]; peak = m["peak_rss_bytes_training"] / 2**30
parts = ", ".join(f"{k.replace('_', ' ')} {v / 2**20:.0f} MiB" for k, v in m["training_breakdown_bytes"].items())
c = j["config"]
print(f"{name}: {c['parameters']} parameters, batch {c['batch_size']} x seq {c['seq_len']}, {j['run']['concurrent_shards']} shard(s) at once, "
      f"{j['train']['tokens_per_sec']:.0f} tokens/s, {100 * j['ratios']['train_gflops_over_fma_peak']:.1f}% of the FMA peak")
print(f"  peak training memory {peak:.3f} GiB (target <= {target} GiB: {'met' if peak <= target else 'NOT met'})")
print(f"  resident after the steps: {parts}")
PY
}
run small-seq2048 1.2 small --set model.seq_len=2048 --set train.batch_size=2
run smollm2_135m-checkpointed 2.6 smollm2_135m --set train.checkpoint_activations=layer
