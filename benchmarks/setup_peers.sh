#!/usr/bin/env bash
# Builds .benchvenv: torch 2.13.0+cpu, higher 0.2.1, learn2learn 0.2.0, torchopt 0.7.3 (Python 3.11).
# Peers live here only; they are never dependencies of metanmt. Usage: bash benchmarks/setup_peers.sh
set -euo pipefail
VENV=${VENV:-$PWD/.benchvenv}
BUILD=$(mktemp -d)

python3 -m venv "$VENV"
. "$VENV/bin/activate"

# 1. torch first, pinned (the CPU wheel on this machine's disk)
pip install torch==2.13.0
pip install numpy tqdm
# metanmt itself, so the benchmarks import it beside the peers (torch above satisfies its pin)
pip install -e "$(cd "$(dirname "$0")/.." && pwd)"

# 2. higher: pure-python wheel, its only dep is torch
pip install --no-deps higher==0.2.1

# 3. learn2learn 0.2.0 is an sdist whose bundled .c files were made by Cython 0.29.24,
#    which does not compile on Python 3.11 (longintrepr.h). Regenerate them with current Cython.
pip install cython
pip download --no-deps --no-binary :all: -d "$BUILD" learn2learn==0.2.0
tar xzf "$BUILD/learn2learn-0.2.0.tar.gz" -C "$BUILD"
( cd "$BUILD/learn2learn-0.2.0" && cython -3 learn2learn/data/meta_dataset.pyx learn2learn/data/task_dataset.pyx learn2learn/data/transforms.pyx )
pip install --no-build-isolation --no-deps "$BUILD/learn2learn-0.2.0"

# 4. learn2learn's import-time deps only (no qpth, no gsutil: not needed to import)
pip install requests scipy gym
# torchvision matching torch 2.13.0 (its metadata pins torch==2.13.0). PyPI's wheel is the CUDA
# build: its _C.so needs libc10_cuda.so/libtorch_cuda.so, which the CPU torch lacks, so the C ops
# do not load, and two unguarded fake-kernel registrations (nms, qnms) then kill `import torchvision`.
pip install torchvision==0.28.0
TV=$(python -c "import sysconfig;print(sysconfig.get_paths()['purelib'])")/torchvision/_meta_registrations.py
sed -i 's/^@torch\.library\.register_fake("torchvision::\(q\?nms\)")$/@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda fn: fn))/' "$TV"
grep -c '_has_ops() else (lambda fn: fn)' "$TV"   # expect 2

# 5. torchopt: a cp311 wheel (--no-deps keeps our torch); it imports optree and, at import time
#    (torchopt.visual), the graphviz Python package
pip install --no-deps torchopt==0.7.3
pip install optree typing-extensions graphviz

python -c "import torch, torchvision, higher, learn2learn, torchopt; from learn2learn.algorithms import MAML; print(torch.__version__, torchvision.__version__, learn2learn.__version__, torchopt.__version__)"
rm -rf "$BUILD"
