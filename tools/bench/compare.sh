#!/usr/bin/env bash
# Simply (deterministic) against eager PyTorch on the same model, batch and thread count.
# Runs `simply bench` and tools/bench/torch_peer.py alternately, ROUNDS times each, per
# config, then prints medians and the ratios issue 9 sets targets for.
#
#   bash tools/bench/compare.sh                 # tiny and small, 2 threads, 3 rounds
#   CONFIGS=tiny ROUNDS=1 STEPS=5 bash tools/bench/compare.sh
#
# Environment: CONFIGS ("tiny small"), THREADS (2), ROUNDS (3), STEPS (10 measured steps,
# after 2 warm-up steps), SIMPLY (.build/release/simply), PYTHON (/work/pyenv/bin/python,
# else python3), OUT (a directory for the per-round JSON; default: a temporary one),
# SUMMARY_ONLY=1 (print the table again from the JSON already in OUT), OMP_WAIT_POLICY for the
# peer (PASSIVE: PyTorch's OpenMP threads sleep instead of spinning at barriers; spinning
# stalls steps for seconds when the cores are shared, see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIGS=${CONFIGS:-"tiny small"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10}
SIMPLY=${SIMPLY:-.build/release/simply}
PYTHON=${PYTHON:-/work/pyenv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$SIMPLY" ] || { echo "error: $SIMPLY not found (swift build -c release, or set SIMPLY=)" >&2; exit 1; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "error: $PYTHON has no torch (set PYTHON=)" >&2; exit 1; }

if [ -z "${SUMMARY_ONLY:-}" ]; then
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for config in $CONFIGS; do
  for round in $(seq 1 "$ROUNDS"); do
    echo "[$config round $round/$ROUNDS] simply bench --deterministic --threads $THREADS" >&2
    "$SIMPLY" bench --experiment_config "$config" --deterministic --threads "$THREADS" --steps "$STEPS" \
      --kernel_seconds 0.1 --json "$OUT/simply-$config-$round.json" > "$OUT/simply-$config-$round.txt"
    echo "[$config round $round/$ROUNDS] torch_peer.py --threads $THREADS" >&2
    OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} "$PYTHON" tools/bench/torch_peer.py --experiment_config "$config" --threads "$THREADS" --steps "$STEPS" --profile_steps 2 \
      > "$OUT/torch-$config-$round.json" 2> >(grep -v '^USDT:' >&2)   # torch.profiler's start/stop lines
  done
done
fi

"$PYTHON" - "$OUT" "$ROUNDS" $CONFIGS <<'PY'
import json, statistics, sys
out, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = statistics.median
mib = lambda b: b / 2**20
print(f"per-round JSON: {out}")
print(f"{'config':7} {'Simply tok/s':>12} {'torch tok/s':>12} {'ratio':>6} {'best-step ratio':>15} {'Simply GF/s':>11} "
      f"{'BLAS2t sq':>9} {'%sq':>5} {'BLAS2t mdl':>10} {'%mdl':>5} {'FMA peak':>8} {'%peak':>5} {'Simply MiB':>10} {'torch MiB':>9}")
runs = {c: ([json.load(open(f"{out}/simply-{c}-{r}.json")) for r in range(1, rounds + 1)],
             [json.load(open(f"{out}/torch-{c}-{r}.json")) for r in range(1, rounds + 1)]) for c in configs}
for c in configs:
    s, t = runs[c]
    st, tt = med(x["train"]["tokens_per_sec"] for x in s), med(x["tokens_per_sec"] for x in t)
    # The fastest single step of all rounds: the closest figure to an idle machine.
    best = min(x["train"]["step_sec_min"] for x in s), min(x["step_sec_min"] for x in t)
    gf = med(x["train"]["gflops"] for x in s)
    sq = med(x["kernels"]["square_openblas_2t_gflops"] for x in s)
    md = med(x["kernels"]["model_shapes_openblas_2t_gflops"] for x in s)
    sm = max(x["memory"]["peak_rss_bytes_training"] for x in s)
    tm = max(x["peak_rss_bytes"] for x in t)
    # The machine's FMA peak on all threads, measured by each bench (absent in older JSON).
    pk = med(x["fma_peak"]["gflops"] for x in s) if all("fma_peak" in x for x in s) else float("nan")
    pf = med(x["ratios"]["train_gflops_over_fma_peak"] for x in s) if all("fma_peak" in x for x in s) else float("nan")
    print(f"{c:7} {st:12.0f} {tt:12.0f} {st / tt:6.2f} {best[1] / best[0]:15.2f} {gf:11.2f} {sq:9.1f} {100 * gf / sq:5.1f} "
          f"{md:10.1f} {100 * gf / md:5.1f} {pk:8.1f} {100 * pf:5.1f} {mib(sm):10.1f} {mib(tm):9.1f}")
print()
print("FMA peak: GFLOP/s of simply bench's register-only FMA loop on all threads at once (FMAPeak); %peak: Simply's training GFLOP/s over it")
print()
print("matrix products inside the step (medians; Simply: MatmulClock, PyTorch: aten::mm/addmm/bmm under torch.profiler)")
print(f"{'config':7} {'Simply GF/s':>11} {'torch GF/s':>10} {'speed ratio':>11} {'Simply share':>12} {'torch share':>11} {'ceiling':>7}")
for c in configs:
    s, t = runs[c]
    if not all("matmul_in_step" in x["train"] for x in s) or not all("matmul_sec_per_step" in x for x in t):
        print(f"{c:7} (not in these JSON files)"); continue
    sg = med(x["train"]["matmul_in_step"]["gflops_per_thread"] * x["run"]["threads"] for x in s)
    tg = med(x["matmul_gflops"] for x in t)
    ss = med(x["train"]["matmul_in_step"]["share_of_thread_time"] for x in s)
    ts = med(x["matmul_share_of_step"] for x in t)
    print(f"{c:7} {sg:11.1f} {tg:10.1f} {sg / tg:11.2f} {100 * ss:11.1f}% {100 * ts:10.1f}% {1 / ts:7.2f}")
print("GF/s: the products' FLOPs over their time in the step, for all threads together (Simply: thread-seconds")
print("over threads; attention's products included, while PyTorch's run inside SDPA and are not counted); share: of")
print("the step's time; ceiling: the tokens/s ratio Simply would reach if its products ran")
print("exactly as fast as PyTorch's in-step sgemm (MKL) and nothing else in its step took any time (1 / torch share).")
print()
print("ratio: Simply/PyTorch training tokens/s (medians over rounds); best-step ratio: PyTorch's fastest step time")
print("over Simply's (all rounds); %sq, %mdl: Simply's training GFLOP/s (median) as a share of OpenBLAS sgemm on")
print("2 threads at a 1024 square and at the model's shapes (medians); MiB: peak RSS during training (max).")
PY
