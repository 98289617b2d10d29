#!/usr/bin/env bash
# MetaNMT against MultiNMT (Gu et al. 2018): both trained on the 18 training languages for the same
# number of target tokens and chosen alike (fine-tune on 16K words of a validation language, dev
# BLEU); then every validation and test language is fine-tuned from MetaNMT, MultiNMT and a random
# initialisation at each English-word budget, over several draws.
#
#   bash recipes/metanmt_vs_multinmt.sh --preset quick    # the toy corpus, a few minutes (README)
#   bash recipes/metanmt_vs_multinmt.sh --preset cpu      # the real comparison on a 2-core CPU
#   bash recipes/metanmt_vs_multinmt.sh --preset paper --source ../shared/data --processes 8
#
# Writes OUT/{metanmt,multinmt} (runs) and OUT/finetune: results.csv (one row per fine-tuning),
# summary.md and summary.csv (mean ± std of BLEU, chrF, tokenized BLEU), bleu_vs_words_<lang>.png.
# Re-running resumes every part.
set -euo pipefail
source "$(dirname "$0")/translation_flags.sh"
preset=quick tokens=""
while [ $# -gt 0 ]; do
  if translation_flag "$1" "${2:-}"; then shift 2; continue; fi
  case "$1" in
    --target-tokens) tokens="$2"; shift ;;
    *) echo "usage: $0 [--preset quick|cpu|paper] [--target-tokens N] $TRANSLATION_USAGE" >&2
       exit 2 ;;
  esac
  shift
done
cache="${METANMT_CACHE:-$HOME/.cache/metanmt}"
case "$preset" in
  quick) corpus=${corpus:-$cache/translation-toy}; prepare="--toy --vocab-size 400"; threads=1
         size=tiny; : "${tokens:=600000}"
         train="translation.model=tiny translation.dropout=0.0 translation.support_tokens=300
                translation.query_tokens=300 translation.validation_words=1000
                translation.validation_steps=30 translation.validation_sentences=50
                train.outer_lr=0.003 train.warmup_steps=0 train.eval_every=100
                train.time_limit_minutes=0"
         tune="--lr 0.003 --warmup-steps 0 --max-steps 100 --batch-tokens 300 --threads 1"
         : "${languages:=ro fi}" "${budgets:=0 500 2000}" "${draws:=2}" "${tests:=100}" ;;
  cpu)   corpus=${corpus:-$cache/translation}; prepare="--source $source"; threads=2
         size=cpu; : "${tokens:=2400000}"  # ~23 min of training each, plus 3 validations
         train="train.time_limit_minutes=0 train.eval_every=200"
         tune="--max-steps 50 --threads 2"  # the best dev loss came at step 0 or 25 (BENCHMARKS.md)
         : "${languages:=ro lv fi tr ko}" "${budgets:=0 4k 16k}" "${draws:=1}" "${tests:=100}" ;;
  paper) corpus=${corpus:-$cache/translation}; prepare="--source $source"; threads=0
         size=paper; : "${tokens:=1000000000}"
         train="translation.model=paper translation.support_tokens=2000
                translation.query_tokens=2000 train.device=auto train.time_limit_minutes=0
                train.eval_every=2000 train.checkpoint_every=1000"
         tune="--lr 0.0001 --max-steps 2000 --batch-tokens 4000 --patience 10"
         : "${languages:=ro lv fi tr ko}" "${budgets:=0 4k 16k 40k all}" "${draws:=5}" "${tests:=0}" ;;
  *) echo "unknown preset '$preset': choose quick, cpu or paper" >&2; exit 2 ;;
esac
out=${out:-results/metanmt_vs_multinmt_$preset}
[ "$preset" = quick ] || [ -n "$source" ] || [ -f "$corpus/manifest.json" ] || prepare=""  # download
if [ ! -f "$corpus/vocab/vocab.json" ]; then
  # shellcheck disable=SC2086
  metanmt prepare --out "$corpus" $prepare
fi
configs="$(dirname "$0")/configs"
for name in multinmt metanmt; do  # the same target tokens for both: equal data and compute
  # shellcheck disable=SC2086
  train_command --config "$configs/${name}_cpu.yaml" --threads "$threads" --resume \
    --set out_dir="$out/$name" translation.corpus="$corpus" train.max_target_tokens="$tokens" \
    $train $extra
done
# shellcheck disable=SC2086
metanmt finetune --init metanmt="$out/metanmt" multinmt="$out/multinmt" random="random:$size" \
  --corpus "$corpus" --languages $languages --budgets $budgets --draws "$draws" \
  --test-sentences "$tests" --out "$out/finetune" $tune
metanmt runs "$out/metanmt" "$out/multinmt" | tee "$out/training.md"
cat "$out/finetune/summary.md"
