#!/usr/bin/env bash
# Fine-tune a trained model on a language it never saw, from your own parallel files, at several
# English-word budgets; scores (sacreBLEU, chrF, tokenized BLEU, mean ± std over draws) and a
# BLEU-vs-words plot. Any script works: the shared vocabulary falls back to bytes for characters it
# has never seen. Each of train, dev and test is two line-aligned files (yours, English) or one TSV.
#
#   bash recipes/finetune_new_language.sh --init results/metanmt_vs_multinmt_cpu/metanmt \
#       --language xx --train-files train.xx train.en --dev-tsv dev.tsv --test-tsv test.tsv
#   bash recipes/finetune_new_language.sh --init metanmt=RUN1 multinmt=RUN2 --language xx ...
#
# Options: --budgets "4k 16k all" (default), --draws N (3), --out DIR, --subset all|emb+enc|emb, and
# any other `metanmt finetune` flag after `--`. Writes OUT/results.csv, summary.md,
# bleu_vs_words_<language>.png and OUT/models/ (save_pretrained folders with their tokenizer).
set -euo pipefail
init=() language="" budgets="4k 16k all" draws=3 out="" subset="all" data=() extra=()
usage() {
  echo "usage: $0 --init [NAME=]RUN_OR_MODEL... --language CODE" \
       "(--train-files SRC EN | --train-tsv FILE) (--dev-files SRC EN | --dev-tsv FILE)" \
       "(--test-files SRC EN | --test-tsv FILE) [--budgets '4k 16k all'] [--draws N]" \
       "[--subset all|emb+enc|emb] [--out DIR] [-- more metanmt finetune flags]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --init) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do init+=("$1"); shift; done
            continue ;;
    --language) language="$2"; shift ;;
    --train-files|--dev-files|--test-files) data+=("$1" "$2" "$3"); shift 2 ;;
    --train-tsv|--dev-tsv|--test-tsv) data+=("$1" "$2"); shift ;;
    --budgets) budgets="$2"; shift ;;
    --draws) draws="$2"; shift ;;
    --subset) subset="$2"; shift ;;
    --out) out="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
  shift
done
[ ${#init[@]} -gt 0 ] && [ -n "$language" ] || usage
out=${out:-results/finetune_$language}
# shellcheck disable=SC2086
metanmt finetune --init "${init[@]}" --language "$language" "${data[@]}" --budgets $budgets \
  --draws "$draws" --subset "$subset" --out "$out" "${extra[@]}"
cat "$out/summary.md"
