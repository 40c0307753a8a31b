using Microsoft.FSharp.Core;
using Optim;

namespace Optim.CSharp;

/// <summary>
/// L-BFGS, as <c>torch.optim.LBFGS</c> (PyTorch 1.13; Nocedal, "Updating Quasi-Newton Matrices with Limited Storage",
/// 1980, and Liu &amp; Nocedal, 1989, after Schmidt's minFunc). One <see cref="Optimizer.Step"/> runs up to <c>max_iter</c>
/// iterations over the concatenation <c>x</c> of all parameters, re-evaluating the closure as it goes: from the
/// curvature pairs <c>sᵢ = tᵢdᵢ</c>, <c>yᵢ = gᵢ₊₁ − gᵢ</c> (the newest <c>history_size</c> with <c>y·s &gt; 1e-10</c>)
/// the two-loop recursion gives the direction <c>d = −H·g</c>, with <c>H₀ = (y·s / y·y)·I</c> from the newest pair;
/// then <c>x = x + t·d</c>, where <c>t = lr</c> (<c>min(1, 1/‖g‖₁)·lr</c> on the very first iteration), or the step a
/// strong Wolfe line search finds from there (<c>lineSearchFn: "strong_wolfe"</c>). A step stops early when
/// <c>max|g| ≤ tolerance_grad</c>, <c>g·d &gt; −tolerance_change</c>, <c>max|t·d| ≤ tolerance_change</c>, the loss changes
/// by less than <c>tolerance_change</c>, or after <c>max_eval</c> evaluations.
/// State (global, filed under the first parameter as PyTorch does): <c>"func_evals"</c>, <c>"n_iter"</c>, <c>"d"</c>,
/// <c>"t"</c>, <c>"old_dirs"</c>, <c>"old_stps"</c>, <c>"ro"</c>, <c>"H_diag"</c>, <c>"prev_flat_grad"</c>, <c>"prev_loss"</c>.
/// </summary>
/// <remarks>
/// <para>As in PyTorch there is exactly one param group, and <see cref="Optimizer.Step"/> needs a closure that clears the
/// gradients, evaluates the model at the parameters' current values, accumulates the gradients and returns the loss:</para>
/// <code>
/// var optimizer = new LBFGS(parameters, lineSearchFn: "strong_wolfe");
/// optimizer.Step(() =>
/// {
///     optimizer.ZeroGrad();
///     float loss = Forward();   // reads the parameters' Data
///     Backward();               // p.AccumulateGrad(...) for every parameter
///     return loss;
/// });
/// </code>
/// <para>A parameter without a gradient (or with <see cref="Parameter.RequiresGrad"/> false) counts as a gradient of
/// zeros; a sparse gradient is made dense, as PyTorch does. The numbers are PyTorch's on CPU, float32 throughout.</para>
/// <para><see cref="Optimizer.Step"/> returns the loss of the first evaluation, at the parameters' values before the step;
/// without a closure it throws <see cref="ArgumentNullException"/>. When the closure throws, the parameters get back their
/// values from before the step, the state is kept, and the exception propagates.</para>
/// </remarks>
public sealed class LBFGS : Optimizer
{
    private LbfgsState _lbfgs = LbfgsStateModule.initial;

    private static Defaults MakeDefaults(double lr, int maxIter, int? maxEval, double toleranceGrad, double toleranceChange,
                                         int historySize, string? lineSearchFn)
    {
        var options = LbfgsOptionsModule.validate(new LbfgsOptions(
            lr, maxIter, maxEval is int e ? FSharpOption<int>.Some(e) : FSharpOption<int>.None,
            toleranceGrad, toleranceChange, historySize, ParseLineSearch(nameof(lineSearchFn), lineSearchFn)));
        return new("LBFGS",
            [("lr", lr), ("max_iter", maxIter), ("max_eval", LbfgsOptionsModule.maxEval(options)), ("tolerance_grad", toleranceGrad),
             ("tolerance_change", toleranceChange), ("history_size", historySize)],
            [], [], [("line_search_fn", lineSearchFn)]);
    }

    private static LineSearch ParseLineSearch(string name, string? value) => value switch
    {
        null => LineSearch.None,
        "strong_wolfe" => LineSearch.StrongWolfe,
        _ => throw new ArgumentException($"Invalid line_search_fn value: '{value}'; only 'strong_wolfe' and null (no line search) are supported.", name),
    };

    private static IEnumerable<ParamGroup> OneGroup(IEnumerable<ParamGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var list = groups.ToList();
        if (list.Count > 1)
            throw new ArgumentException($"LBFGS doesn't support per-parameter options (parameter groups): it takes one param group, but got {list.Count}.", nameof(groups));
        return list;
    }

    /// <summary>LBFGS over parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate: the fixed step length, or the line search's first trial step.</param>
    /// <param name="maxIter">The most iterations per <see cref="Optimizer.Step"/>, 1 or more.</param>
    /// <param name="maxEval">The most closure evaluations per <see cref="Optimizer.Step"/>, 1 or more; null: <c>maxIter * 5 / 4</c>.</param>
    /// <param name="toleranceGrad">Stop when the largest gradient element is at most this.</param>
    /// <param name="toleranceChange">Stop when the step or the change in loss is below this.</param>
    /// <param name="historySize">How many curvature pairs to keep, 1 or more.</param>
    /// <param name="lineSearchFn"><c>"strong_wolfe"</c>, or null for a fixed step.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public LBFGS(IEnumerable<Parameter> parameters, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
                 double toleranceChange = 1e-9, int historySize = 100, string? lineSearchFn = null)
        : this(Single(parameters), lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize, lineSearchFn) { }

    /// <summary>LBFGS over one param group (LBFGS takes no more than one); keys the group does not set take these values.</summary>
    /// <param name="groups">The param group, alone.</param>
    /// <param name="lr">Learning rate: the fixed step length, or the line search's first trial step.</param>
    /// <param name="maxIter">The most iterations per <see cref="Optimizer.Step"/>, 1 or more.</param>
    /// <param name="maxEval">The most closure evaluations per <see cref="Optimizer.Step"/>, 1 or more; null: <c>maxIter * 5 / 4</c>.</param>
    /// <param name="toleranceGrad">Stop when the largest gradient element is at most this.</param>
    /// <param name="toleranceChange">Stop when the step or the change in loss is below this.</param>
    /// <param name="historySize">How many curvature pairs to keep, 1 or more.</param>
    /// <param name="lineSearchFn"><c>"strong_wolfe"</c>, or null for a fixed step.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), there is no group,
    /// or there is more than one.</exception>
    public LBFGS(IEnumerable<ParamGroup> groups, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
                 double toleranceChange = 1e-9, int historySize = 100, string? lineSearchFn = null)
        : base(OneGroup(groups), MakeDefaults(lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize, lineSearchFn)) { }

    /// <summary>
    /// Performs one LBFGS step, as <c>optimizer.step(closure)</c>: up to <c>max_iter</c> iterations, calling
    /// <paramref name="closure"/> with the parameters' <see cref="Parameter.Data"/> set to each point to evaluate. When it
    /// returns, the parameters hold the result (the gradients are those of the closure's last call).
    /// </summary>
    /// <param name="closure">Clears the gradients, evaluates the model at the parameters' current values, accumulates the
    /// gradients and returns the loss. Required.</param>
    /// <returns>The loss of the first evaluation, at the parameters' values before the step.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="closure"/> is null.</exception>
    /// <exception cref="ArgumentException">The group's hyperparameters are invalid; the closure is not called.</exception>
    /// <remarks>When the closure throws, the parameters get back their values from before the step, the state is kept, and
    /// the exception propagates.</remarks>
    private protected override float? StepCore(Func<float>? closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        var options = Read(ParamGroups[0]);
        var ps = ParamGroups[0].Params;
        var start = ps.Select(p => new CoreTensor(p.Shape, (float[])p.Data.Clone())).ToArray();
        var evaluate = FuncConvert.FromFunc<CoreTensor[], Tuple<float, float[]?[]>>(trial =>
        {
            for (int i = 0; i < ps.Count; i++) trial[i].Data.CopyTo(ps[i].Data, 0);
            float loss = closure();
            var grads = new float[]?[ps.Count];
            for (int i = 0; i < ps.Count; i++) grads[i] = GradientOf(ps[i]);
            return Tuple.Create(loss, grads);
        });
        Tuple<CoreTensor[], LbfgsState, float> result;
        try
        {
            result = Lbfgs.step(options, evaluate, start, _lbfgs);
        }
        catch
        {
            for (int i = 0; i < ps.Count; i++) start[i].Data.CopyTo(ps[i].Data, 0);
            throw;
        }
        for (int i = 0; i < ps.Count; i++) result.Item1[i].Data.CopyTo(ps[i].Data, 0);
        _lbfgs = result.Item2;
        StepCount++;
        return result.Item3;
    }

    /// <summary>A parameter's gradient as LBFGS gathers it: null (zeros) without one, dense for a sparse one.</summary>
    private static float[]? GradientOf(Parameter p)
    {
        if (!p.RequiresGrad) return null;
        if (p.Grad is { } g) return g;
        return p.HasSparseGrad ? SparseGradientModule.toDense(p.Shape, p.CoalescedSparseGrad()) : null;
    }

    private static int Count(ParamGroup g, string key)
    {
        double v = g[key];
        Hyper.CheckScalar(key, v);
        return (int)v;
    }

    private static LbfgsOptions Read(ParamGroup g) => LbfgsOptionsModule.validate(new LbfgsOptions(
        g["lr"], Count(g, "max_iter"), FSharpOption<int>.Some(Count(g, "max_eval")), g["tolerance_grad"], g["tolerance_change"],
        Count(g, "history_size"), ParseLineSearch("line_search_fn", g.GetText("line_search_fn"))));

    private protected override State InitState(CoreTensor[] parameters) => StateModule.empty(parameters.Length);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override void Prepare(int index, ParamGroup group) { }

    private protected override void StepParam(int group, State state, int index, Span<float> param, ReadOnlySpan<float> grad) =>
        throw new InvalidOperationException("LBFGS steps all parameters at once, in Step(closure).");

    private protected override void CheckNewGroup(ParamGroup group)
    {
        if (ParamGroups.Count > 0)
            throw new ArgumentException("LBFGS doesn't support per-parameter options (parameter groups): it takes one param group, and has it already.", nameof(group));
    }

    private protected override StateDict MakeStateDict(Checkpoint checkpoint) =>
        new(new LbfgsCheckpoint(checkpoint, LbfgsStateModule.copy(_lbfgs)));

    private protected override Action? LoadOwnState(StateDict state)
    {
        if (state.Lbfgs is not { } c) throw new CheckpointException("This state dict holds no LBFGS state.");
        LbfgsStateModule.check(ParamGroups[0].Params.Sum(p => p.Numel), c.Lbfgs);
        var loaded = LbfgsStateModule.copy(c.Lbfgs);
        return () => _lbfgs = loaded;
    }
}
