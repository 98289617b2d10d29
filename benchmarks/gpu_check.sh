#!/usr/bin/env bash
# GPU readiness in one script (<= 8 minutes on one H100/H200):
#   1. target tokens/s and peak GPU memory of the `paper` model for pretrain (MultiNMT), FOMAML
#      and exact second-order MAML, bf16 autocast (benchmarks/algorithm_cost.py, one round);
#   2. STEPS MultiNMT steps of the paper model on the real corpus (validation on loss);
#   3. a 2-process `accelerate launch` run (`metanmt train --processes 2`) when 2 GPUs are there.
# Writes OUT/summary.json and prints a table.
#   bash benchmarks/gpu_check.sh OUT [CORPUS]          (CORPUS: ~/.cache/metanmt/translation)
# Environment (defaults for the GPU): MODEL=paper DEVICE=cuda PRECISION=bf16 SPEED_STEPS=10
# STEPS=200 PROCESSES=2 DIST_STEPS=50. tests/test_gpu_check.py runs it on CPU with the tiny model.
# Budget on one GPU: speed ~3 x 40 s (3 fresh processes: start, tokenizing the corpus, 2 warm-up +
# 10 steps), 200 steps ~2 min, 2-process run ~1.5 min; each part has a timeout so the whole cannot
# pass ~8 minutes.
set -euo pipefail
out=$1 corpus=${2:-$HOME/.cache/metanmt/translation}
model=${MODEL:-paper} device=${DEVICE:-cuda} precision=${PRECISION:-bf16}
speed_steps=${SPEED_STEPS:-10} steps=${STEPS:-200} processes=${PROCESSES:-2}
dist_steps=${DIST_STEPS:-50}
mkdir -p "$out"
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
keys=(translation.model="$model" train.device="$device" train.mixed_precision="$precision")

if command -v nvidia-smi >/dev/null && [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
"$python" -c "import torch, transformers, datasets, accelerate; print('torch', torch.__version__,
'transformers', transformers.__version__, 'datasets', datasets.__version__, 'accelerate',
accelerate.__version__, 'GPUs', torch.cuda.device_count())"

# 1. speed and memory per algorithm
timeout 300 "$python" benchmarks/algorithm_cost.py --corpus "$corpus" --rounds 1 \
  --steps "$speed_steps" --algorithms pretrain fomaml maml --json "$out/speed.json" \
  --set "${keys[@]}"

# 2. MultiNMT steps on the corpus
timeout 180 "$python" -m metanmt.cli train --config recipes/configs/multinmt_cpu.yaml \
  --set out_dir="$out/multinmt" translation.corpus="$corpus" "${keys[@]}" train.steps="$steps" \
  train.time_limit_minutes=2.5 translation.validation=loss train.eval_every="$steps" \
  train.eval_tasks=8 train.checkpoint_every="$steps" train.log_every=10 train.warmup_fraction=0.1 \
  2>&1 | tr '\r' '\n' | grep -v -E "it/s|s/it|\[[0-9:]+<" | tail -3

# 3. two processes, if two GPUs (or when asked for on CPU, where gloo stands in)
gpus=$("$python" -c "import torch; print(torch.cuda.device_count())")
if [ "$processes" -ge 2 ] && { [ "$device" = cpu ] || [ "$gpus" -ge 2 ]; }; then
  timeout 150 "$python" -m metanmt.cli train --processes "$processes" \
    --config recipes/configs/multinmt_cpu.yaml --set out_dir="$out/distributed" \
    translation.corpus="$corpus" "${keys[@]}" train.steps="$dist_steps" \
    train.time_limit_minutes=2 translation.validation=loss train.eval_every="$dist_steps" \
    train.eval_tasks=8 train.checkpoint_every="$dist_steps" train.log_every=10 \
    train.warmup_fraction=0.1 2>&1 | tr '\r' '\n' | grep -v -E "it/s|s/it|\[[0-9:]+<" | tail -2
  distributed="ran"
else
  distributed="skipped: PROCESSES=$processes, $gpus GPU(s) on $device"
fi

"$python" - "$out" "$distributed" <<'EOF'
import csv, json, sys
from pathlib import Path

out, distributed = Path(sys.argv[1]), sys.argv[2]
speed = json.loads((out / "speed.json").read_text())


def run_summary(folder: Path) -> dict:
    rows = list(csv.DictReader((folder / "metrics.csv").open()))
    last = {row["name"]: float(row["value"]) for row in rows}
    return {"steps": max(int(row["step"]) for row in rows),
            "seconds": max(float(row["seconds"]) for row in rows),
            "train_loss": last.get("train/loss"), "val_loss": last.get("val/loss"),
            "signature": (folder / "signature.txt").read_text().strip(),  # from the built objects
            "config": json.loads((folder / "checkpoints/last/config.json").read_text())}


summary = {"speed": speed, "multinmt": run_summary(out / "multinmt"),
           "distributed": run_summary(out / "distributed") if distributed == "ran" else distributed}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print("| algorithm | model | device | precision | target tokens/s | peak GPU MiB | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
for name, m in speed.items():
    gpu = f"{m['gpu_peak_mib']:.0f}" if m["gpu_peak_mib"] is not None else "-"
    print(f"| {name} | {m['model']} | {m['device']} | {m['precision']} | "
          f"{m['tokens_per_second']:.0f} | {gpu} | {m['peak_mib']:.0f} |")
for name in ("multinmt", "distributed"):
    r = summary[name]
    if isinstance(r, str):
        print(f"{name}: {r}")
    else:
        print(f"{name}: {r['steps']} steps in {r['seconds']:.0f} s, train loss "
              f"{r['train_loss']}, val loss {r['val_loss']}; {r['signature']}")
EOF
