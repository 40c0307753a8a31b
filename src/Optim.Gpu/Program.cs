using ILGPU;
using ILGPU.Runtime;

namespace Optim.Gpu;

/// <summary>
/// What one launch of a fused step reads: the parameters and the pass's input (flat over every parameter of the
/// optimizer), the state buffers of the group's chain (slot k of its plan in <c>B{k}</c>), and the launch's table of
/// tensors: their element ranges and one row of scalars each.
/// </summary>
internal struct StepArgs
{
    public ArrayView<float> P, G;
    /// <summary>For a pass that ends in updates (one before the chain's last): where they go.</summary>
    public ArrayView<float> Out;
    public ArrayView<float> B0, B1, B2, B3, B4, B5, B6, B7;
    /// <summary>Launch tensor j covers launch elements [Starts[j], Starts[j+1]).</summary>
    public ArrayView<long> Starts;
    /// <summary>Where launch tensor j's elements start in the flat buffers.</summary>
    public ArrayView<long> Bases;
    /// <summary>Launch tensor j's scalars: the ops' scalars (at each op's base), then decay, scale and coupled decay.</summary>
    public ArrayView<float> Scalars;
    public int Stride;
    /// <summary>Where the decay, the apply scale and the absorbed coupled decay sit in a row.</summary>
    public int Extra;
    public int Tensors;
    /// <summary>1: the input op reads the gradient negated (an absorbed maximize).</summary>
    public int Negate;
    /// <summary>1: a held step: the ops up to the gate run, nothing is applied.</summary>
    public int Holds;
    /// <summary>1: a pass that ends in updates (written to <c>Out</c> by <see cref="StoreStage"/>): the parameters stay.</summary>
    public int Updates;

    /// <summary>The most state slots a plan may have on the device.</summary>
    public const int MaxSlots = 8;
}

/// <summary>One element's view of a launch: its index in the flat buffers, its tensor's scalar row, and the values the
/// program passes along (the updates U, the parameter P, the new parameter PNew).</summary>
internal struct Element
{
    public StepArgs A;
    public long X;
    public int Row;
    public float G, P, U, PNew;

    /// <summary>Scalar k of this element's tensor (an op adds its base).</summary>
    public readonly float S(int k) => A.Scalars[Row + k];

    /// <summary>The old value of state slot <paramref name="slot"/> at this element.</summary>
    public readonly float Read(int slot)
    {
        switch (slot)
        {
            case 0: return A.B0[X];
            case 1: return A.B1[X];
            case 2: return A.B2[X];
            case 3: return A.B3[X];
            case 4: return A.B4[X];
            case 5: return A.B5[X];
            case 6: return A.B6[X];
            default: return A.B7[X];
        }
    }

    /// <summary>Writes state slot <paramref name="slot"/> at this element.</summary>
    public readonly void Write(int slot, float v)
    {
        switch (slot)
        {
            case 0: A.B0[X] = v; break;
            case 1: A.B1[X] = v; break;
            case 2: A.B2[X] = v; break;
            case 3: A.B3[X] = v; break;
            case 4: A.B4[X] = v; break;
            case 5: A.B5[X] = v; break;
            case 6: A.B6[X] = v; break;
            default: A.B7[X] = v; break;
        }
    }
}

/// <summary>
/// One elementwise block's arithmetic on one element, as the device runs it: a struct (ILGPU compiles a call on a
/// struct's interface method, through the generic parameter, as a direct call). It reads its scalars at its base
/// <c>S</c> in the row and its state at its slots from <c>B</c>; the expressions are those of the block's CPU kernel
/// in <c>Optim.Core</c>'s Ops, in the same order, so that the device gives the same float32 numbers.
/// </summary>
internal interface IElementOp
{
    /// <summary>The outgoing update for the incoming <paramref name="x"/>, with <paramref name="p"/> the parameter the op
    /// sees (the old one, or for an op that reads the new parameter, the new one).</summary>
    float Apply(ref Element e, float x, float p);
}

/// <summary>A chain compiled for the device: a sequence of stages, each a generic struct holding the next.</summary>
internal interface IProgram
{
    /// <summary>Runs this stage and the ones after it on one element.</summary>
    void Run(ref Element e);
}

/// <summary>What a stage does with its op (see <see cref="Stage{TOp, TNext}"/>).</summary>
internal static class Role
{
    /// <summary>`u = op(u, p)`.</summary>
    public const int Pre = 0;
    /// <summary>The op that reads the pass's input through an absorbed maximize and coupled decay: `u = op((±1·g) + λ·p, p)`.</summary>
    public const int Input = 1;
    /// <summary>An op that reads the new parameter in the middle of a chain: `u = op(u, p + u)`.</summary>
    public const int NewParameter = 2;
    /// <summary>An op after the apply stage, on the new parameter: `u = op(u, p')`.</summary>
    public const int Tail = 3;
}

/// <summary>The end of a program.</summary>
internal struct End : IProgram
{
    public void Run(ref Element e) { }
}

/// <summary>A stage of a program: its op in its role, then the rest.</summary>
internal struct Stage<TOp, TNext> : IProgram where TOp : struct, IElementOp where TNext : struct, IProgram
{
    public TOp Op;
    public int Role;
    public TNext Next;

    public void Run(ref Element e)
    {
        if (Role == Gpu.Role.Input)
        {
            // the arithmetic of the absorbed maximize (a scale by -1) and addWeightDecay, as the CPU kernels read their input
            float x = e.A.Negate != 0 ? -1.0f * e.G : e.G;
            float wd = e.S(e.A.Extra + 2);
            if (wd != 0.0f) x = x + wd * e.P;
            e.U = Op.Apply(ref e, x, e.P);
        }
        else if (Role == Gpu.Role.NewParameter) e.U = Op.Apply(ref e, e.U, e.P + e.U);
        else if (Role == Gpu.Role.Tail) e.U = Op.Apply(ref e, e.U, e.PNew);
        else e.U = Op.Apply(ref e, e.U, e.P);
        Next.Run(ref e);
    }
}

/// <summary>The apply stage: `p' = p·decay + s·u` (PyTorch's `p.mul_(decay)` then `p.add_(u, alpha=s)`), then the rest.</summary>
internal struct ApplyStage<TNext> : IProgram where TNext : struct, IProgram
{
    public TNext Next;

    public void Run(ref Element e)
    {
        e.PNew = e.P * e.S(e.A.Extra) + e.S(e.A.Extra + 1) * e.U;
        Next.Run(ref e);
    }
}

/// <summary>
/// The end of a pass that gives updates instead of new parameters (a pass before the chain's last): `u`, or with a
/// deferred decay `(p·decay + u) - p`, as the core's pure pass gives them; into <c>Out</c>.
/// </summary>
internal struct StoreStage : IProgram
{
    public void Run(ref Element e)
    {
        float d = e.S(e.A.Extra);
        e.A.Out[e.X] = d == 1.0f ? e.U : (e.P * d + e.U) - e.P;
    }
}

/// <summary>The launch table's lookup, in a kernel.</summary>
internal static class LaunchTable
{
    /// <summary>The launch tensor that holds launch element <paramref name="i"/>: the last j with <c>starts[j] &lt;= i</c>.</summary>
    public static int TensorOf(ArrayView<long> starts, int tensors, long i)
    {
        int lo = 0, hi = tensors - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (starts[mid] <= i) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}

/// <summary>What a reduction over a pass's input reads: the updates and the launch table.</summary>
internal struct SquaresArgs
{
    public ArrayView<float> In;
    public ArrayView<long> Starts, Bases;
    /// <summary>Per launch tensor: Σ float64(x·x), the squares in float32 (as the core's torchNorm takes them).</summary>
    public ArrayView<double> Sums;
    public int Tensors;
}

/// <summary>The sums of squares of each launch tensor's updates, for a reduction that starts a pass on the device.</summary>
internal static class SquaresKernel
{
    public static void Run(Index1D index, SquaresArgs a)
    {
        long i = index;
        int lo = LaunchTable.TensorOf(a.Starts, a.Tensors, i);
        float x = a.In[a.Bases[lo] + (i - a.Starts[lo])];
        Atomic.Add(ref a.Sums[lo], (double)(x * x));
    }
}

/// <summary>The kernel of a program: finds the element's tensor in the launch table, runs the program, stores the new parameter.</summary>
internal static class StepKernel
{
    public static void Run<TProgram>(Index1D index, StepArgs a, TProgram program) where TProgram : struct, IProgram
    {
        long i = index;
        int lo = LaunchTable.TensorOf(a.Starts, a.Tensors, i);
        long x = a.Bases[lo] + (i - a.Starts[lo]);
        var e = new Element { A = a, X = x, Row = lo * a.Stride };
        e.G = a.G[x];
        e.P = a.P[x];
        e.U = e.G;
        e.PNew = e.P;
        program.Run(ref e);
        if (a.Holds == 0 && a.Updates == 0) a.P[x] = e.PNew;
    }
}

/// <summary>A loaded kernel for one program type, launched with the program's value.</summary>
internal interface IStepKernel
{
    void Launch(AcceleratorStream stream, int elements, StepArgs args);

    /// <summary>The program's type (the kernel is <c>StepKernel.Run</c> over it).</summary>
    Type ProgramType { get; }
}

/// <summary>The kernel of program type <typeparamref name="TProgram"/>, loaded once on an accelerator.</summary>
internal sealed class StepKernel<TProgram> : IStepKernel where TProgram : struct, IProgram
{
    private readonly Action<AcceleratorStream, Index1D, StepArgs, TProgram> _kernel;
    private readonly TProgram _program;

    public StepKernel(Accelerator accelerator, object program)
    {
        _program = (TProgram)program;
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, StepArgs, TProgram>(StepKernel.Run);
    }

    public void Launch(AcceleratorStream stream, int elements, StepArgs args) => _kernel(stream, elements, args, _program);

    public Type ProgramType => typeof(TProgram);
}
