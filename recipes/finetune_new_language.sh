#!/usr/bin/env bash
# Fine-tune trained models on a language they never saw, from your own parallel files, at several
# English-word budgets; scores (sacreBLEU, chrF, tokenized BLEU, mean ± std over draws) and
# BLEU- and dev-loss-vs-words plots. Any script works: the shared vocabulary falls back to bytes
# for characters it has never seen, and --extend-vocab N adds up to N source pieces holding them,
# learnt from each draw's training side (README: when it helps, and which N). Each of train, dev and test is two
# line-aligned files (yours, English) or a TSV.
#
# From a comparison preset's MetaNMT and MultiNMT (trained first if they are not yet), with that
# preset's budgets, draws and fine-tuning; writes OUT/<language>/ as the preset writes a track:
# summary.md, contrast.md (MetaNMT - MultiNMT, 95% intervals, paired p-values) and the plots:
#   bash recipes/finetune_new_language.sh --preset cpu --language xx \
#       --train-tsv train.tsv --dev-tsv dev.tsv --test-tsv test.tsv
#
# From any trained runs or models, with `metanmt finetune`'s flags (defaults: budgets 0 4k 16k,
# 3 draws); --out defaults to results/finetune_<language>:
#   bash recipes/finetune_new_language.sh --init metanmt=RUN1 multinmt=RUN2 random=random:cpu \
#       --language xx --train-files train.xx train.en --dev-tsv dev.tsv --test-tsv test.tsv
set -euo pipefail
preset=""
if [ "${1:-}" = --preset ]; then preset="$2"; shift 2; fi
args=("$@") language="" out=""
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --language) language="${args[$((i + 1))]}" ;;
    --out) out="${args[$((i + 1))]}" ;;
  esac
done
if [ -z "$language" ]; then
  echo "usage: $0 (--preset NAME | --init [NAME=]RUN_OR_MODEL...) --language CODE" \
       "(--train-files SRC EN | --train-tsv FILE) (--dev-files SRC EN | --dev-tsv FILE)" \
       "(--test-files SRC EN | --test-tsv FILE) [more flags]" >&2
  exit 2
fi
if [ -n "$preset" ]; then
  config="$(dirname "$0")/configs/compare/$preset.yaml"
  [ -f "$config" ] || { echo "unknown preset '$preset': see recipes/configs/compare/" >&2; exit 2; }
  exec metanmt compare --config "$config" "${args[@]}"
fi
[ -n "$out" ] || { out="results/finetune_$language"; args+=(--out "$out"); }
metanmt finetune "${args[@]}"
cat "$out/summary.md"
