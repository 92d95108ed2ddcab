#!/bin/bash
# The seq2seq comparison of the README (issue 11): each bundled seq2seq recipe as bundled (the five
# pinyin -> characters models, then the English -> Chinese Transformer on HSK), then each run scored
# once on the test split (`toolkit eval`, which also draws its BLEU/CER per source length next to the
# run's metrics.json), then `toolkit compare` of the validation and of the test scores (tables, loss
# curves, per-length plots).
#
#   bash benchmarks/seq2seq_compare.sh [OUTPUT_FOLDER] [KEY=VALUE ...]   # about 55 minutes on 2 quiet CPU cores
#
# KEY=VALUE overrides go to every `toolkit run` (a quick check of the script:
#   bash benchmarks/seq2seq_compare.sh /tmp/s2s_check train.max_steps=20 data.max_rows=400).
# Environment:
#   THREADS=N   torch/OpenMP threads of each run (default: torch's own choice, all cores)
#   JOBS=N      recipes trained side by side (default 1). Times are comparable only between runs
#               that shared the machine the same way: for the README, JOBS=1 on a quiet machine;
#               two at a time on 2 cores means JOBS=2 THREADS=1.
#   RECIPES     the recipes to run, relative to recipes/ without .yaml (default: all six below)
# HSK has no known alignment, so its alignment accuracy is absent ("-") in the table.
set -euo pipefail
out=${1:-runs/seq2seq_compare}
shift || true
overrides=("$@")
recipes=${RECIPES:-"rnn_seq2seq/tiny_pinyin_no_attention rnn_seq2seq/tiny_pinyin_bahdanau rnn_seq2seq/tiny_pinyin
                    conv_seq2seq/tiny_pinyin transformer_seq2seq/tiny_pinyin transformer_seq2seq/tiny_hsk"}
jobs=${JOBS:-1}
if [[ -n "${THREADS:-}" ]]; then
  export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
fi
toolkit=${TOOLKIT:-toolkit}  # TOOLKIT="python -m toolkit" runs a checkout's code
mkdir -p "$out"

train() {  # one recipe into $out/NAME, its log beside it; prints its wall time
  local recipe=$1 name=${1//\//-} start
  start=$(date +%s)
  if $toolkit run "recipes/$recipe.yaml" "output.dir=$out/$name" "${overrides[@]}" > "$out/$name.log" 2>&1; then
    echo "$name: trained in $(( $(date +%s) - start )) s (wall, evaluations included)"
  else
    echo "$name: FAILED after $(( $(date +%s) - start )) s, see $out/$name.log"
    return 1
  fi
}

failed=0
running=0
for recipe in $recipes; do
  if (( running >= jobs )); then
    wait -n || failed=1
    running=$(( running - 1 ))
  fi
  train "$recipe" &
  running=$(( running + 1 ))
done
while (( running > 0 )); do
  wait -n || failed=1
  running=$(( running - 1 ))
done
if (( failed )); then
  echo "Some runs failed; no test scores or comparison." >&2
  exit 1
fi

runs=()
for recipe in $recipes; do
  name=${recipe//\//-}
  $toolkit eval "$out/$name" --split test > "$out/$name.test.log" 2>&1
  echo "$name test: $(grep -m 1 "bleu" "$out/$name.test.log" || echo "no scores, see $out/$name.test.log")"
  runs+=("$out/$name")
done
echo "Validation (each run's last training evaluation):"
$toolkit compare "${runs[@]}" --plot "$out/compare_loss.png" --bucket-plot "$out/compare_buckets.png"
echo
echo "Test (toolkit eval --split test, all test pairs):"
$toolkit compare "${runs[@]}" --split test --plot "" --bucket-plot "$out/compare_buckets_test.png"
