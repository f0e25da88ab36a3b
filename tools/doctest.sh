#!/usr/bin/env bash
# Runs the README's and the docs' shell blocks, in order, exactly as written,
# on a fresh clone of this repository's HEAD.
#
#   bash tools/doctest.sh [--fast] [FILE.md ...]     (default: README.md, then the guides in reading order)
#
# Runnable blocks are fenced ```sh; ```text blocks are synopses and are not
# run. A `swift test` line is skipped (the test suite runs it). --fast exports
# SIMPLY_STEPS_CAP=3, so every `simply train` runs at most 3 steps, and skips
# blocks whose first line is `# doctest: full` (commands that need a long run's
# checkpoints). Without --fast the blocks run as a reader runs them and the
# log (DIR/doctest.log) holds the numbers to compare with the docs.
# DOCTEST_DIR=DIR keeps the clone there (default: a new temporary directory);
# DOCTEST_KEEP_GOING=1 runs the remaining blocks after a failure;
# DOCTEST_REUSE=1 (with DOCTEST_DIR) updates DIR's clone to HEAD and keeps its
# runs/ and data/, so later guides can be re-run after earlier ones without
# running those again.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
fast=0
if [ "${1:-}" = "--fast" ]; then fast=1; shift; fi
docs=("$@")
# Reading order: later guides use what earlier ones made (runs/tiny, runs/tiny_sft, data/add-*.ex, ...).
# A guide not named here (a new algorithm's) runs after the post-training guides, in name order.
if [ ${#docs[@]} -eq 0 ]; then
  docs=(README.md docs/posttraining/sft.md docs/posttraining/recipe.md docs/posttraining/dpo.md
    docs/posttraining/reward.md docs/posttraining/ppo.md docs/posttraining/grpo.md docs/posttraining/distillation.md)
  for g in $(cd "$repo" && ls docs/posttraining/*.md | sort); do
    [[ " ${docs[*]} " == *" $g "* ]] || docs+=("$g")
  done
  docs+=(docs/evaluation.md docs/sampling.md docs/export.md docs/lora.md docs/serve.md docs/determinism.md)
fi
work=${DOCTEST_DIR:-$(mktemp -d)}
mkdir -p "$work"
if [ -n "${DOCTEST_REUSE:-}" ] && [ -d "$work/simply/.git" ]; then
  git -C "$work/simply" fetch -q "$repo" HEAD
  git -C "$work/simply" reset -q --hard FETCH_HEAD   # runs/ and data/ are ignored files: kept
  swift build -c release --package-path "$work/simply" > /dev/null   # the guides run this HEAD's simply
else
  rm -rf "$work/simply"
  git clone -q "$repo" "$work/simply"
fi
cd "$work/simply"
log="$work/doctest.log"
if [ -n "${DOCTEST_REUSE:-}" ]; then echo "=== doctest reusing $work/simply at $(git rev-parse --short HEAD)" >> "$log"; else : > "$log"; fi
export PATH="$work/simply/.build/release:$PATH"
export SIMPLY_SETUP_NO_LINK=1     # the clone's simply is on PATH; leave /usr/local/bin/simply alone
[ $fast -eq 1 ] && export SIMPLY_STEPS_CAP=3
start=$SECONDS
for doc in "${docs[@]}"; do
  [ -f "$doc" ] || { echo "doctest: no $doc" >&2; exit 2; }
  # The ```sh blocks, one file per block.
  rm -rf .doctest && mkdir .doctest
  awk -v dir=.doctest '
    /^```sh[ \t]*$/ { n++; f = sprintf("%s/%03d.sh", dir, n); inb = 1; next }
    /^```/ && inb { inb = 0; close(f); next }
    inb { print > f }' "$doc"
  for block in .doctest/*.sh; do
    [ -e "$block" ] || continue
    name="$doc block $(basename "$block" .sh)"
    if [ $fast -eq 1 ] && head -n 1 "$block" | grep -q '^# doctest: full'; then
      echo "doctest: $name: skipped (--fast; needs the full run)"; continue
    fi
    grep -v -E '^[[:space:]]*swift test( |$)' "$block" > "$block.run" || true
    t=$SECONDS
    echo "=== $name" >> "$log"
    if ! bash -euo pipefail "$block.run" >> "$log" 2>&1; then
      echo "doctest: $name failed after $((SECONDS - t)) s; the last lines of $log:" >&2
      tail -n 15 "$log" >&2
      [ -n "${DOCTEST_KEEP_GOING:-}" ] || exit 1
      failed=1; continue
    fi
    echo "doctest: $name ok ($((SECONDS - t)) s)"
  done
done
rm -rf .doctest
[ -z "${failed:-}" ] || { echo "doctest: some blocks failed (log: $log)" >&2; exit 1; }
echo "doctest: all blocks ran in $((SECONDS - start)) s (log: $log)"
