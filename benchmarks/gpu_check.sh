#!/usr/bin/env bash
# The GPU path on a CUDA machine, in one command (benchmarks/README.md): a small real cell on the GPU,
# then NVML energy, GPU memory, the transformers overhead ratio (<= 1.05) and, on an H100, that
# server-h100 is emulated. Exit 0: all held; 1: an assertion failed (each on a "FAIL:" line);
# 3: no CUDA device ("no CUDA device: nothing to check"). Usage: benchmarks/gpu_check.sh [WORKDIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "no CUDA device: nothing to check"
  exit 3
fi
exec timeout 290 python3 "$here/gpu_check.py" "${1:-/tmp/tierbench-gpu-check}"
