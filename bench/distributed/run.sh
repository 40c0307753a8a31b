#!/bin/sh
# Optim.Distributed's benchmark: all-reduce bandwidth against copy bandwidth, the ring's time by message size on 2
# and 4 ranks, a ZeRO step against an unsharded step plus an all-gather, a DDP step with and without overlap; then fit.py's α-β fit and predictions
# (docs/distributed.md). The timings are also written to out/distributed-bench.txt.
#     bench/distributed/run.sh            (from the repository root; needs OpenMPI's mpirun)
set -e
cd "$(dirname "$0")/../.."
dotnet build bench/distributed/Optim.DistributedBench -c Release -nologo -v q >/dev/null
dll=bench/distributed/Optim.DistributedBench/bin/Release/net10.0/Optim.DistributedBench.dll
mpi() { mpirun --allow-run-as-root --oversubscribe -x TERM=dumb -np "$1" dotnet "$dll" "$2"; }
mkdir -p out
{ mpi 2 allreduce; mpi 2 sizes; mpi 4 sizes; mpi 2 zero; mpi 2 ddp; } | tee out/distributed-bench.txt
echo
python3 bench/distributed/fit.py out/distributed-bench.txt
