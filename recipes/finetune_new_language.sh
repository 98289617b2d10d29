#!/usr/bin/env bash
# Fine-tune trained models on a language they never saw, from your own parallel files, at several
# English-word budgets; scores (sacreBLEU, chrF, tokenized BLEU, mean ± std over draws) and a
# BLEU-vs-words plot. Any script works: the shared vocabulary falls back to bytes for characters it
# has never seen. Each of train, dev and test is two line-aligned files (yours, English) or a TSV.
#
#   bash recipes/finetune_new_language.sh --init results/metanmt_vs_multinmt_cpu/metanmt \
#       --language xx --train-files train.xx train.en --dev-tsv dev.tsv --test-tsv test.tsv
#   bash recipes/finetune_new_language.sh --init metanmt=RUN1 multinmt=RUN2 random=random:cpu \
#       --language xx ... --budgets 0 4k 16k all --draws 5
#
# Every flag is `metanmt finetune`'s (defaults: budgets 0 4k 16k, 3 draws; `metanmt finetune
# --help`); --out defaults to results/finetune_<language>. Writes OUT/results.csv, summary.md,
# bleu_vs_words_<language>.png and OUT/models/ (save_pretrained folders with their tokenizer).
set -euo pipefail
args=("$@") language="" out=""
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --language) language="${args[$((i + 1))]}" ;;
    --out) out="${args[$((i + 1))]}" ;;
  esac
done
if [ -z "$language" ]; then
  echo "usage: $0 --init [NAME=]RUN_OR_MODEL... --language CODE (--train-files SRC EN |" \
       "--train-tsv FILE) (--dev-files SRC EN | --dev-tsv FILE) (--test-files SRC EN |" \
       "--test-tsv FILE) [more metanmt finetune flags]" >&2
  exit 2
fi
[ -n "$out" ] || { out="results/finetune_$language"; args+=(--out "$out"); }
metanmt finetune "${args[@]}"
cat "$out/summary.md"
