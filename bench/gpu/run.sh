#!/usr/bin/env bash
# The GPU check, in one short run on a CUDA machine (an NVIDIA H200 here): build, run the device tests (the CUDA ones
# run instead of skipping), then time the fused Adam, AdamW and SGD-momentum steps at 16M, 256M and 1B parameters, as 1
# and as 1,000 tensors. Prints everything; record the table in docs/performance.md exactly as printed.
# Usage: bash bench/gpu/run.sh [--sizes 16M,256M,1B] [--steps 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
dotnet build -c Release tests/Optim.Gpu.Tests -v:q -nologo
dotnet build -c Release bench/Optim.GpuBench -v:q -nologo
dotnet test -c Release --no-build tests/Optim.Gpu.Tests --logger "console;verbosity=normal" 2>&1 | tail -5
dotnet bench/Optim.GpuBench/bin/Release/net10.0/Optim.GpuBench.dll "$@"
