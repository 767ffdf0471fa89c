#!/usr/bin/env bash
# nntop vs PyTorch on this machine, measured in one run: for each round and each case, runs
# `nntop bench` and ../shared/reference/torch_bench.py back to back (interleaved, so drift hits
# both; which goes first alternates by round), then prints each figure's median over the rounds, the
# ratio of those medians, and the median of the per-round ratios (each from two back-to-back runs: the
# more robust figure on a busy machine),
# then the same as a markdown table for BENCHMARKS.md with both sides' peak memory of a training run.
#
# Usage: scripts/bench-vs-torch.sh [CASE...]      (default: lenet5 resnet18 resnet18-nores)
#   CASE is MODEL[:C,H,W][@BATCH][-nores], e.g. resnet20-cifar:3,32,32, resnet50:3,224,224@16,
#   resnet18-nores (ResNet-18 with --no-residual); `zoo` stands for the zoo table of issue #18.
# Env: ROUNDS (3), STEPS (30; lenet5 takes at least 300), THREADS (all cores), BATCH (64, unless the
#      case says), NNTOP (binary; built if unset), NNTOP_BASE (an older binary, run in the same rounds
#      just before NNTOP: before/after ratios), MEMORY (1: also each side's peak RSS of a training
#      run), PYTHON (python3).
#      PyTorch: pip install 'torch==2.13.0+cpu' (the local CPU wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; STEPS=${STEPS:-30}; BATCH=${BATCH:-64}; THREADS=${THREADS:-$(nproc)}
PYTHON=${PYTHON:-python3}
TORCH_BENCH=${TORCH_BENCH:-../shared/reference/torch_bench.py}
if [[ -z "${NNTOP:-}" ]]; then
  swift build -c release --product nntop >&2
  NNTOP=.build/release/nntop
fi
zoo=(resnet20-cifar:3,32,32 resnet56-cifar:3,32,32 resnet50:3,32,32 googlenet:3,32,32 vgg16-bn:3,32,32
     alexnet:3,64,64 resnet50:3,224,224@16 resnet18)
cases=()
for c in "$@"; do if [[ $c == zoo ]]; then cases+=("${zoo[@]}"); else cases+=("$c"); fi; done
[[ ${#cases[@]} -eq 0 ]] && cases=(lenet5 resnet18 resnet18-nores)
MEMORY=${MEMORY:-1}
# parse CASE into: model, input option, batch, residual flag
parse() {
  local c=$1
  flag=(); [[ $c == *-nores ]] && { flag=(--no-residual); c=${c%-nores}; }
  batch=$BATCH; [[ $c == *@* ]] && { batch=${c##*@}; c=${c%@*}; }
  input=(); [[ $c == *:* ]] && { input=(--input "${c#*:}"); c=${c%%:*}; }
  model=$c
  # LeNet-5's step is a few milliseconds: at the zoo's 5 steps each side would time ~15 ms of work.
  steps=$STEPS; [[ $model == lenet5 ]] && (( steps < 300 )) && steps=300
  return 0
}
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "PyTorch missing: pip install 'torch==2.13.0+cpu'" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run_nntop() {   # BINARY OUTFILE: the case parsed last, round $r
  "$1" bench "$model" --batch-size "$batch" --threads "$THREADS" --steps "$steps" --no-peak "${input[@]}" "${flag[@]}" \
    | awk -v c="$c" -v r="$r" '$1 == "nntop" && ($3 == "train" || $3 == "infer") { print c, $3, $4, r }
                               /^peak memory/ { print c, "rss", $5, r }' >> "$2"
}
run_torch() {
  "$PYTHON" "$TORCH_BENCH" "$model" --batch "$batch" --threads "$THREADS" --steps "$steps" "${input[@]}" "${flag[@]}" \
    | awk -v c="$c" -v r="$r" '$1 == "torch" { print c, $3, $4, r }' >> "$tmp/torch"
}
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${cases[@]}"; do
    parse "$c"; echo "round $r/$ROUNDS: $c" >&2
    if [[ -n "${NNTOP_BASE:-}" ]]; then
      run_nntop "$NNTOP_BASE" "$tmp/base"
    fi
    # Odd rounds nntop first, even rounds PyTorch first: neither side always starts right after the
    # other's process.
    if (( r % 2 )); then run_nntop "$NNTOP" "$tmp/nntop"; run_torch; else run_torch; run_nntop "$NNTOP" "$tmp/nntop"; fi
    if [[ $MEMORY == 1 && $r == 1 ]]; then
      "$PYTHON" scripts/torch_train_rss.py "$model" --batch "$batch" --threads "$THREADS" "${input[@]}" "${flag[@]}" \
        | awk -v c="$c" -v r="$r" '$1 == "torch" { print c, "rss", $4, r }' >> "$tmp/torch"
    fi
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads $THREADS, batch $BATCH (or the case's @N), $STEPS steps (lenet5 at least 300), median of $ROUNDS rounds"
ratios() {   # file: median, ratio of medians to torch's, median of per-round ratios
  local file=$1 c=$2 f=$3 n t pr
  n=$(awk -v c="$c" -v f="$f" '$1 == c && $2 == f { print $3 }' "$file" | median)
  t=$(awk -v c="$c" -v f="$f" '$1 == c && $2 == f { print $3 }' "$tmp/torch" | median)
  pr=$(awk -v c="$c" -v f="$f" 'FNR == NR { if ($1 == c && $2 == f) t[$4] = $3; next }
                                 $1 == c && $2 == f && t[$4] > 0 { print $3 / t[$4] }' "$tmp/torch" "$file" | median)
  printf '%12.1f %12.1f %7.2fx %11.2fx' "$n" "$t" "$(awk -v n="$n" -v t="$t" 'BEGIN { print n / t }')" "$pr"
}
printf '%-24s %-6s %12s %12s %8s %12s' case figure "nntop/s" "torch/s" ratio "per-round"
[[ -n "${NNTOP_BASE:-}" ]] && printf '   %12s %8s %12s' "base/s" ratio "per-round"
echo
for c in "${cases[@]}"; do
  for f in train infer; do
    printf '%-24s %-6s ' "$c" "$f"; ratios "$tmp/nntop" "$c" "$f"
    [[ -n "${NNTOP_BASE:-}" ]] && { printf '   '; ratios "$tmp/base" "$c" "$f" | awk '{ printf "%12s %8s %12s", $1, $3, $4 }'; }
    echo
  done
done

if [[ $MEMORY == 1 ]]; then
  echo
  echo "| case | nntop train/s | torch train/s | ratio | nntop infer/s | torch infer/s | ratio | nntop train RSS | torch train RSS |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for c in "${cases[@]}"; do
    row="| $c"
    for f in train infer; do
      read -r n t _ pr < <(ratios "$tmp/nntop" "$c" "$f"; echo) || true
      row+=" | $n | $t | ${pr}"
    done
    nm=$(awk -v c="$c" '$1 == c && $2 == "rss" { print $3 }' "$tmp/nntop" | median)
    tm=$(awk -v c="$c" '$1 == c && $2 == "rss" { print $3 }' "$tmp/torch" | median)
    echo "$row | $nm MB | $tm MB |"
  done
fi
