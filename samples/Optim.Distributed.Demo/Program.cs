// The README's data-parallel command (dotnet fsi build.fsx ddp): the demo's MLP 784-128-10 trained on Fashion-MNIST
// by two ranks under mpirun, with DistributedDataParallel and ZeRO-sharded Adam, against one process on the whole
// batches.
//
//     mpirun --allow-run-as-root --oversubscribe -x TERM=dumb -np 2 dotnet Optim.Distributed.Demo.dll [--steps N]
//
// Every step each rank trains on its half of a batch of 64 images (DistributedSampler's share of the epoch's order),
// DDP averages the gradients, and each rank's ZeroRedundancyOptimizer steps the parameters it owns. Meanwhile, after
// the data-parallel run, rank 0 trains one process on the same batches of 64, and rank 1 one process that sums each
// batch's gradient shard by shard, in the order the two ranks' all-reduce sums it. The first agrees within float32
// rounding (the whole batch's matmuls sum in another order); the second is equal bit for bit on one or two ranks.
// Exits 1 when a check fails.
using System.Diagnostics;
using System.Globalization;
using Optim.CSharp;
using Optim.Distributed;
using Optim.NN;
using OptimDemo;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
int steps = 300;
for (int i = 0; i < args.Length - 1; i++)
    if (args[i] == "--steps") steps = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "--steps must be 1 or more.");

const int batch = 64, seed = 0;
const double lr = 1e-3;
using var comm = new MpiCommunicator();
if (batch % comm.Size != 0) throw new InvalidOperationException($"{comm.Size} ranks cannot share batches of {batch} images equally.");
var (train, test, source) = DemoData.Load(dir: null, sample: false, trainImages: steps * batch);
steps = Math.Min(steps, train.Count / batch);
var criterion = new CrossEntropyLoss();

// the data-parallel run: every rank starts from its own weights, and DDP's constructor copies rank 0's into all
var clock = Stopwatch.StartNew();
var ddp = new DistributedDataParallel(Training.Mlp(new Random(seed + comm.Rank)), comm);
var zero = new ZeroRedundancyOptimizer(ddp.Parameters(), ps => new Adam(ps, lr: lr), comm);
foreach (var (x, y) in Shard(comm.Size, comm.Rank).Take(steps))
{
    zero.ZeroGrad();
    criterion.Forward(ddp.Forward(x), y).Backward();
    ddp.Synchronize();
    zero.Step();
}
double ddpSeconds = clock.Elapsed.TotalSeconds;
var replica = Flat(ddp);
var replicas = new float[replica.Length * comm.Size];
comm.AllGather(replica, replicas);
bool replicasEqual = Enumerable.Range(1, comm.Size - 1).All(r => replicas.AsSpan(r * replica.Length, replica.Length).SequenceEqual(replica));

// the single-process runs, one per rank where there are two ranks
var single = comm.Rank == 0 ? WholeBatches() : null;
int last = Math.Min(1, comm.Size - 1);
var ordered = comm.Rank == last ? Flat(ShardByShard()) : new float[replica.Length];
comm.Broadcast(ordered, last);

if (comm.Rank != 0) return 0;
var whole = Flat(single!);
double worst = 0;
bool withinTolerance = true;
for (int i = 0; i < replica.Length; i++)
{
    double d = Math.Abs(replica[i] - whole[i]);
    worst = Math.Max(worst, d);
    withinTolerance &= d <= 1e-5 + 1e-4 * Math.Abs(whole[i]);
}
bool bitForBit = replica.AsSpan().SequenceEqual(ordered);
Console.WriteLine($"Fashion-MNIST: {source}; MLP 784-128-10, Adam lr {lr}, {steps} steps of {batch} images");
Console.WriteLine($"{comm.Size} ranks of {batch / comm.Size} images a step, DistributedDataParallel + ZeroRedundancyOptimizer(Adam): " +
                  $"test accuracy {100 * Training.Accuracy(ddp.Module, test):F2}% ({ddpSeconds:F1} s); the replicas equal: {replicasEqual}");
Console.WriteLine($"one process, the same batches of {batch}: test accuracy {100 * Training.Accuracy(single!, test):F2}%; " +
                  $"largest parameter difference {worst:0.00E+0}, within 1e-5 + 1e-4·|x|: {withinTolerance}");
// OpenMPI sums two ranks as rank 0 + rank 1; for more it picks an order of its own by message size
bool orderKnown = comm.Size <= 2;
Console.WriteLine($"one process, each batch's gradient summed shard by shard as the all-reduce sums it: the parameters equal bit for bit: {bitForBit}" +
                  (orderKnown ? "" : $" (not required on {comm.Size} ranks)"));
return replicasEqual && withinTolerance && (bitForBit || !orderKnown) ? 0 : 1;

// rank r's shares of the epoch's batches: DistributedSampler's order (PyTorch's), batch / ranks images each
IEnumerable<(Tensor X, Tensor Y)> Shard(int ranks, int rank)
{
    var sampler = new DistributedSampler(train.Count, ranks, rank, shuffle: true, seed: seed);
    sampler.SetEpoch(0);
    return new DataLoader(train, batch / ranks, sampler: sampler);
}

// one process on the whole batches: the same images as the ranks' shares together, in one forward pass per batch
Module WholeBatches()
{
    var model = Training.Mlp(new Random(seed));
    var adam = new Adam(model.Parameters(), lr: lr);
    foreach (var (x, y) in Shard(1, 0).Take(steps))
    {
        adam.ZeroGrad();
        criterion.Forward(model.Forward(x), y).Backward();
        adam.Step();
    }
    return model;
}

// one process, each batch as the ranks' shares: the gradient of each share's mean loss ÷ ranks accumulates, which is
// the all-reduced sum ÷ ranks exactly (halving is exact), in the order two ranks' all-reduce adds them
Module ShardByShard()
{
    var model = Training.Mlp(new Random(seed));
    var adam = new Adam(model.Parameters(), lr: lr);
    var shards = Enumerable.Range(0, comm.Size).Select(r => Shard(comm.Size, r).Take(steps).GetEnumerator()).ToArray();
    for (int s = 0; s < steps; s++)
    {
        adam.ZeroGrad();
        foreach (var shard in shards)
        {
            shard.MoveNext();
            (criterion.Forward(model.Forward(shard.Current.X), shard.Current.Y) / comm.Size).Backward();
        }
        adam.Step();
    }
    return model;
}

static float[] Flat(Module model) => model.Parameters().SelectMany(p => p.Data).ToArray();
