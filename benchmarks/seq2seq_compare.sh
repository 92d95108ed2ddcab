#!/bin/bash
# The seq2seq comparison of the README: each bundled pinyin -> characters recipe as bundled, one after
# the other (run it on a quiet machine: two torch processes on 2 cores slow each other badly), then
# each run scored once on the test split, then `toolkit compare` (table + per-length plot).
#   bash benchmarks/seq2seq_compare.sh [OUTPUT_FOLDER]      # about 45 minutes on 2 CPU cores
set -euo pipefail
out=${1:-runs/seq2seq_compare}
mkdir -p "$out"
recipes="rnn_seq2seq/tiny_pinyin_no_attention rnn_seq2seq/tiny_pinyin_bahdanau rnn_seq2seq/tiny_pinyin
         conv_seq2seq/tiny_pinyin transformer_seq2seq/tiny_pinyin"
for recipe in $recipes; do
  name=${recipe//\//-}
  start=$(date +%s)
  toolkit run "recipes/$recipe.yaml" "output.dir=$out/$name" > "$out/$name.log" 2>&1
  echo "$name: trained in $(( $(date +%s) - start )) s (wall, evaluations included)"
done
runs=()
for recipe in $recipes; do
  name=${recipe//\//-}
  toolkit eval "$out/$name" --split test > "$out/$name.test.log" 2>&1
  runs+=("$out/$name")
done
toolkit compare "${runs[@]}" --plot "$out/compare_loss.png" --bucket-plot "$out/compare_buckets.png"
