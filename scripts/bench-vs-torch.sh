#!/usr/bin/env bash
# nntop vs PyTorch on this machine, measured in one run: for each round and each case, runs
# `nntop bench` and ../shared/reference/torch_bench.py back to back (interleaved, so drift hits
# both), then prints each figure's median over the rounds, the ratio of those medians, and the median
# of the per-round ratios (each from two back-to-back runs: the more robust figure on a busy machine).
#
# Usage: scripts/bench-vs-torch.sh [MODEL...]      (default: lenet5 resnet18 resnet18-nores)
#   MODEL may be lenet5, resnet18, or resnet18-nores (ResNet-18 with --no-residual).
# Env: ROUNDS (3), STEPS (30), THREADS (all cores), BATCH (64), NNTOP (binary; built if unset),
#      NNTOP_BASE (an older binary, run in the same rounds just before NNTOP: before/after ratios),
#      PYTHON (python3). PyTorch: pip install 'torch==2.13.0+cpu' (the local CPU wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; STEPS=${STEPS:-30}; BATCH=${BATCH:-64}; THREADS=${THREADS:-$(nproc)}
PYTHON=${PYTHON:-python3}
TORCH_BENCH=${TORCH_BENCH:-../shared/reference/torch_bench.py}
if [[ -z "${NNTOP:-}" ]]; then
  swift build -c release --product nntop >&2
  NNTOP=.build/release/nntop
fi
cases=("$@"); [[ ${#cases[@]} -eq 0 ]] && cases=(lenet5 resnet18 resnet18-nores)
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "PyTorch missing: pip install 'torch==2.13.0+cpu'" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${cases[@]}"; do
    model=${c%-nores}; flag=(); [[ $c == *-nores ]] && flag=(--no-residual)
    echo "round $r/$ROUNDS: $c" >&2
    if [[ -n "${NNTOP_BASE:-}" ]]; then
      "$NNTOP_BASE" bench "$model" --batch-size "$BATCH" --threads "$THREADS" --steps "$STEPS" --no-peak "${flag[@]}" \
        | awk -v c="$c" -v r="$r" '$1 == "nntop" && ($3 == "train" || $3 == "infer") { print c, $3, $4, r }' >> "$tmp/base"
    fi
    "$NNTOP" bench "$model" --batch-size "$BATCH" --threads "$THREADS" --steps "$STEPS" --no-peak "${flag[@]}" \
      | awk -v c="$c" -v r="$r" '$1 == "nntop" && ($3 == "train" || $3 == "infer") { print c, $3, $4, r }' >> "$tmp/nntop"
    "$PYTHON" "$TORCH_BENCH" "$model" --batch "$BATCH" --threads "$THREADS" --steps "$STEPS" "${flag[@]}" \
      | awk -v c="$c" -v r="$r" '$1 == "torch" { print c, $3, $4, r }' >> "$tmp/torch"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads $THREADS, batch $BATCH, $STEPS steps, median of $ROUNDS rounds"
ratios() {   # file: median, ratio of medians to torch's, median of per-round ratios
  local file=$1 c=$2 f=$3 n t pr
  n=$(awk -v c="$c" -v f="$f" '$1 == c && $2 == f { print $3 }' "$file" | median)
  t=$(awk -v c="$c" -v f="$f" '$1 == c && $2 == f { print $3 }' "$tmp/torch" | median)
  pr=$(awk -v c="$c" -v f="$f" 'FNR == NR { if ($1 == c && $2 == f) t[$4] = $3; next }
                                 $1 == c && $2 == f && t[$4] > 0 { print $3 / t[$4] }' "$tmp/torch" "$file" | median)
  printf '%12.1f %12.1f %7.2fx %11.2fx' "$n" "$t" "$(awk -v n="$n" -v t="$t" 'BEGIN { print n / t }')" "$pr"
}
printf '%-16s %-6s %12s %12s %8s %12s' case figure "nntop/s" "torch/s" ratio "per-round"
[[ -n "${NNTOP_BASE:-}" ]] && printf '   %12s %8s %12s' "base/s" ratio "per-round"
echo
for c in "${cases[@]}"; do
  for f in train infer; do
    printf '%-16s %-6s ' "$c" "$f"; ratios "$tmp/nntop" "$c" "$f"
    [[ -n "${NNTOP_BASE:-}" ]] && { printf '   '; ratios "$tmp/base" "$c" "$f" | awk '{ printf "%12s %8s %12s", $1, $3, $4 }'; }
    echo
  done
done
