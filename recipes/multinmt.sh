#!/usr/bin/env bash
# MultiNMT (Gu et al. 2018's multilingual baseline): prepare the corpus once, pre-train on the 18
# training languages, then fine-tune on low-resource languages at English-word budgets, against
# the same fine-tuning from a random initialisation. BLEU / chrF / tokenized BLEU, mean ± std.
# recipes/metanmt.sh runs this script for MetaNMT (METHOD=metanmt: configs/metanmt_cpu.yaml).
#
#   bash recipes/multinmt.sh                         # preset cpu: 30 minutes of training here
#   bash recipes/multinmt.sh --preset tiny           # the made-up toy corpus, about a minute
#   bash recipes/multinmt.sh --preset paper --source ../shared/data   # Gu et al.'s model, on a GPU
#   bash recipes/multinmt.sh --languages "ro fi" --budgets "4000 16000" --draws 3 --test-sentences 500
#   bash recipes/multinmt.sh --preset paper --processes 8  # training on 8 GPUs (accelerate launch)
#
# Writes OUT/run (checkpoints, metrics, model/ as save_pretrained) and OUT/finetune (results.csv,
# summary.md, BLEU-vs-words plots). Re-running resumes both parts.
set -euo pipefail
source "$(dirname "$0")/translation_flags.sh"
method="${METHOD:-multinmt}"  # multinmt | metanmt: which configs/<method>_cpu.yaml to train
preset=cpu minutes=""
while [ $# -gt 0 ]; do
  if translation_flag "$1" "${2:-}"; then shift 2; continue; fi
  case "$1" in
    --minutes) minutes="$2"; shift ;;
    *) echo "usage: $0 [--preset tiny|cpu|paper] [--minutes M] $TRANSLATION_USAGE" >&2; exit 2 ;;
  esac
  shift
done
cache="${METANMT_CACHE:-$HOME/.cache/metanmt}"
case "$preset" in
  tiny)  corpus=${corpus:-$cache/translation-toy}; prepare="--toy --vocab-size 400"; threads=1
         train="translation.model=tiny translation.dropout=0.0 translation.support_tokens=300
                translation.query_tokens=300 translation.validation_words=1000
                translation.validation_steps=30 translation.validation_sentences=50
                train.steps=300 train.outer_lr=0.003
                train.warmup_steps=0 train.eval_every=100 train.time_limit_minutes=0"
         tune="--lr 0.003 --warmup-steps 0 --max-steps 100 --batch-tokens 300 --threads 1"
         : "${languages:=ro fi}" "${budgets:=0 1000}" "${draws:=2}" "${tests:=100}" ;;
  cpu)   corpus=${corpus:-$cache/translation}; prepare="--source $source"; threads=2
         train="train.time_limit_minutes=${minutes:-30}"
         tune="--max-steps 300 --threads 2"
         : "${languages:=ro fi}" "${budgets:=0 16000}" "${draws:=3}" "${tests:=500}" ;;
  paper) corpus=${corpus:-$cache/translation}; prepare="--source $source"; threads=0
         train="translation.model=paper translation.support_tokens=2000 translation.query_tokens=2000
                train.device=auto train.time_limit_minutes=${minutes:-0} train.steps=100000"
         tune="--lr 0.0001 --max-steps 2000 --batch-tokens 4000 --patience 10"
         : "${languages:=ro lv fi tr ko}" "${budgets:=0 4000 16000 40000 all}" "${draws:=5}" "${tests:=0}" ;;
  *) echo "unknown preset '$preset': choose tiny, cpu or paper" >&2; exit 2 ;;
esac
out=${out:-results/${method}_$preset}
[ "$preset" = tiny ] || [ -n "$source" ] || [ -f "$corpus/manifest.json" ] || prepare=""  # download
if [ ! -f "$corpus/vocab/vocab.json" ]; then
  # shellcheck disable=SC2086
  metanmt prepare --out "$corpus" $prepare
fi
# shellcheck disable=SC2086
train_command --config "$(dirname "$0")/configs/${method}_cpu.yaml" --threads "$threads" --resume \
  --set out_dir="$out/run" translation.corpus="$corpus" $train $extra
# shellcheck disable=SC2086
metanmt finetune --init "$method"="$out/run" random=random:"$( [ "$preset" = tiny ] && echo tiny || \
  ([ "$preset" = paper ] && echo paper || echo cpu))" --corpus "$corpus" --languages $languages \
  --budgets $budgets --draws "$draws" --test-sentences "$tests" --out "$out/finetune" $tune
cat "$out/finetune/summary.md"
