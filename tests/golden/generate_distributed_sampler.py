# Golden fixtures for torch.utils.data.distributed.DistributedSampler (PyTorch 1.13): the indices each rank gets.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_distributed_sampler.py
#
# It writes distributed_sampler.json next to itself. The sampler is made with explicit num_replicas and rank, so no
# process group is needed; with shuffle it draws torch.randperm from a torch.Generator seeded seed + epoch.
#
# Layout: {"torch_version": str, "cases": [CASE, ...]}, one case per line. CASE:
#   n, num_replicas, rank, shuffle, seed, epoch, drop_last   the sampler's arguments (epoch via set_epoch)
#   length    len(sampler)
#   indices   list(sampler)

import json
import os

import torch
from torch.utils.data.distributed import DistributedSampler

cases = []
configs = [(n, r) for n in [0, 1, 2, 5, 7, 10, 16, 33, 100] for r in [1, 2, 3, 4, 7]] + [(1000, 3), (4099, 4)]
for n, replicas in configs:
    if True:
        for shuffle in [False, True]:
            for drop_last in [False, True]:
                for seed, epoch in [(0, 0), (0, 3), (42, 1)] if shuffle else [(0, 0)]:
                    for rank in range(replicas):
                        s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
                        s.set_epoch(epoch)
                        cases.append({"n": n, "num_replicas": replicas, "rank": rank, "shuffle": shuffle, "seed": seed,
                                      "epoch": epoch, "drop_last": drop_last, "length": len(s), "indices": list(s)})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_sampler.json")
with open(out, "w") as f:
    f.write('{"torch_version": ' + json.dumps(torch.__version__) + ', "cases": [\n')
    f.write(",\n".join(json.dumps(c) for c in cases))
    f.write("\n]}\n")
print(f"{len(cases)} cases -> {out}")
