using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;

namespace Optim.NN.Tests;

/// <summary>A node of a random computation graph; the same object used twice is a shared subexpression.</summary>
public abstract record Expr(int[] Shape)
{
    public override string ToString() => GetType().Name;
}

/// <summary>A leaf: leaves with the same id and shape are the same tensor.</summary>
public sealed record LeafE(int Id, int[] S) : Expr(S)
{
    public override string ToString() => $"x{Id}[{string.Join(",", S)}]";
}

public enum Op1 { Neg, Exp, Log, Relu, Tanh, Sigmoid, Pow2, Pow3, Pow15, Transpose, LogSoftmax }
public enum Op2 { Add, Sub, Mul, Div }

public sealed record UnaryE(Op1 Op, Expr X, int[] S) : Expr(S)
{
    public override string ToString() => $"{Op}({X})";
}

public sealed record BinaryE(Op2 Op, Expr A, Expr B, int[] S) : Expr(S)
{
    public override string ToString() => $"({A} {Op} {B})";
}

/// <summary>A tensor with a float constant, the constant on the left or the right.</summary>
public sealed record ConstE(Op2 Op, Expr X, float C, bool ConstFirst) : Expr(X.Shape)
{
    public override string ToString() => ConstFirst ? $"({C} {Op} {X})" : $"({X} {Op} {C})";
}

public sealed record MatMulE(Expr A, Expr B, int[] S) : Expr(S)
{
    public override string ToString() => $"({A} @ {B})";
}

public sealed record LinearE(Expr X, Expr W, Expr? Bias, int[] S) : Expr(S)
{
    public override string ToString() => $"linear({X}, {W}, {Bias})";
}

/// <summary>Sum or mean, over everything (Dim null) or one dimension.</summary>
public sealed record ReduceE(Expr X, int? Dim, bool KeepDim, bool Mean, int[] S) : Expr(S)
{
    public override string ToString() => $"{(Mean ? "mean" : "sum")}({X}, {Dim?.ToString() ?? "all"}{(KeepDim ? ", keep" : "")})";
}

/// <summary>Rows [Start, Start + Count) along the first dimension (x[a:b]), or row Start alone (x[i]) when Squeeze.</summary>
public sealed record RowsE(Expr X, int Start, int Count, bool Squeeze, int[] S) : Expr(S)
{
    public override string ToString() => Squeeze ? $"{X}[{Start}]" : $"{X}[{Start}:{Start + Count}]";
}

public sealed record CrossEntropyE(Expr Logits, int[] Targets) : Expr([])
{
    public override string ToString() => $"ce({Logits}, [{string.Join(",", Targets)}])";
}

public sealed record MseE(Expr A, Expr B) : Expr([])
{
    public override string ToString() => $"mse({A}, {B})";
}

/// <summary>The views: each gives the same values under the node's shape.</summary>
public enum ViewOp { Reshape, View, Flatten, Squeeze, Unsqueeze }

/// <summary>
/// A view of X under the shape S: Reshape or View of S with the extent at A given as -1 (none when A is -1),
/// Flatten(A, B), Squeeze(A) or Unsqueeze(A).
/// </summary>
public sealed record ViewE(ViewOp Op, Expr X, int A, int B, int[] S) : Expr(S)
{
    public override string ToString() => $"{Op}({X}, {A}, {B})->[{string.Join(",", S)}]";
}

public sealed record PermuteE(Expr X, int[] Dims, int[] S) : Expr(S)
{
    public override string ToString() => $"permute({X}, [{string.Join(",", Dims)}])";
}

/// <summary>Max() of everything (Dim null), or the values of Max(Dim, KeepDim).</summary>
public sealed record MaxE(Expr X, int? Dim, bool KeepDim, int[] S) : Expr(S)
{
    public override string ToString() => $"max({X}, {Dim?.ToString() ?? "all"}{(KeepDim ? ", keep" : "")})";
}

/// <summary>A random scalar-valued graph with its leaf values.</summary>
public sealed record GraphCase(Expr Root, int Seed)
{
    public override string ToString() => $"{Root} (seed {Seed})";
}

/// <summary>
/// The gradient check: on random graphs over every operation (broadcasting forms, shared leaves and shared
/// subexpressions included), the gradients that <see cref="Tensor.Backward"/> computes in float32 equal central
/// finite differences of a float64 reference forward pass (<see cref="Reference"/>).
/// </summary>
public class GradCheckTests
{
    private static Gen<int> Extent => Gen.Choose(1, 4);

    private const int MaxRank = 4;

    /// <summary>The extent of a dimension added on the way to rank 3 or 4, small so that finite differences stay cheap.</summary>
    private static Gen<int> Small => Gen.Choose(1, 3);

    private static Gen<bool> Bool => Gen.Elements(false, true);

    private static int[] Insert(int[] shape, int at, int extent) => [.. shape[..at], extent, .. shape[at..]];

    private static int[] Remove(int[] shape, int at) => [.. shape[..at], .. shape[(at + 1)..]];

    private static int[] Replace(int[] shape, int at, int extent)
    {
        var r = (int[])shape.Clone();
        r[at] = extent;
        return r;
    }

    /// <summary>A permutation of 0 … rank − 1, drawn from a seed.</summary>
    private static Gen<int[]> Permutation(int rank) =>
        Gen.Choose(0, 1 << 20).Select(seed =>
        {
            var p = Enumerable.Range(0, rank).ToArray();
            new Random(seed).Shuffle(p);
            return p;
        });

    /// <summary>A graph of the given output shape and depth.</summary>
    private static Gen<Expr> Node(int[] shape, int depth)
    {
        Gen<Expr> leaf = Gen.Choose(0, 1).Select(id => (Expr)new LeafE(id, shape));
        if (depth == 0) return leaf;
        int d = depth - 1;
        int rank = shape.Length;
        var options = new List<Func<Gen<Expr>>>
        {
            () => leaf,
            () => from op in Gen.Elements(Op1.Neg, Op1.Exp, Op1.Relu, Op1.Tanh, Op1.Sigmoid, Op1.Pow2, Op1.Pow3)
                  from x in Node(shape, d) select (Expr)new UnaryE(op, Tame(op, x), shape),
            () => from x in Positive(shape, d) from op in Gen.Elements(Op1.Log, Op1.Pow15) select (Expr)new UnaryE(op, x, shape),
            () => from op in Gen.Elements(Op2.Add, Op2.Sub, Op2.Mul)
                  from a in Node(shape, d) from b in Node(shape, d) select (Expr)new BinaryE(op, a, b, shape),
            () => from a in Node(shape, d) from b in Positive(shape, d) select (Expr)new BinaryE(Op2.Div, a, b, shape),
            () => from op in Gen.Elements(Op2.Add, Op2.Sub, Op2.Mul, Op2.Div)
                  from c in Gen.Elements(0.5f, -1.5f, 2f, 3f)
                  from first in Gen.Elements(false, true)
                  from x in first && op == Op2.Div ? Positive(shape, d) : Node(shape, d)
                  select (Expr)new ConstE(op, x, c, first),
            // a shared subexpression: the same node feeds both sides
            () => from x in Node(shape, d) from op in Gen.Elements(Op2.Add, Op2.Mul)
                  select (Expr)new BinaryE(op, x, new UnaryE(Op1.Tanh, x, shape), shape),
        };
        if (rank < MaxRank)
            // one row of a tensor one rank up: a row of a matrix, an element of a vector, an image of a batch
            options.Add(() => from extra in Gen.Choose(1, 3) from at in Gen.Choose(0, extra - 1)
                              from x in Node([extra, .. shape], d) select (Expr)new RowsE(x, at, 1, true, shape));
        if (rank > 0)
            // a slice of rows of a taller tensor
            options.Add(() => from before in Gen.Choose(0, 2) from after in Gen.Choose(0, 2)
                              from x in Node([shape[0] + before + after, .. shape[1..]], d)
                              select (Expr)new RowsE(x, before, shape[0], false, shape));
        var smaller = Smaller(shape).Where(s => !s.SequenceEqual(shape)).ToArray();
        if (smaller.Length > 0)
            // broadcasting: a smaller operand stretched over the shape, on either side
            options.Add(() => from s in Gen.Elements(smaller)
                              from op in Gen.Elements(Op2.Add, Op2.Sub, Op2.Mul, Op2.Div)
                              from first in Gen.Elements(false, true)
                              from big in op == Op2.Div && first ? Positive(shape, d) : Node(shape, d)
                              from small in op == Op2.Div && !first ? Positive(s, d) : Node(s, d)
                              select (Expr)(first ? new BinaryE(op, small, big, shape) : new BinaryE(op, big, small, shape)));
        AddAnyRank(options, shape, d);
        if (rank == 2)
        {
            int m = shape[0], n = shape[1];
            options.Add(() => from k in Extent from a in Node([m, k], d) from b in Node([k, n], d) select (Expr)new MatMulE(a, b, shape));
            options.Add(() => from k in Extent from x in Node([m, k], d) from w in Node([n, k], d)
                              from bias in Gen.Elements(true, false)
                              from b in Node([n], d)
                              select (Expr)new LinearE(x, w, bias ? b : null, shape));
            options.Add(() => Node([n, m], d).Select(x => (Expr)new UnaryE(Op1.Transpose, x, shape)));
            options.Add(() => Node(shape, d).Select(x => (Expr)new UnaryE(Op1.LogSoftmax, x, shape)));
            if (n == 1) options.Add(() => from k in Extent from mean in Gen.Elements(false, true) from x in Node([m, k], d)
                                          select (Expr)new ReduceE(x, 1, true, mean, shape));
            if (m == 1) options.Add(() => from k in Extent from mean in Gen.Elements(false, true) from x in Node([k, n], d)
                                          select (Expr)new ReduceE(x, 0, true, mean, shape));
        }
        if (rank == 1)
        {
            int n = shape[0];
            options.Add(() => from k in Extent from mean in Gen.Elements(false, true) from dim in Gen.Elements(1, -1)
                              from x in Node([n, k], d) select (Expr)new ReduceE(x, dim, false, mean, shape));
            options.Add(() => from k in Extent from mean in Gen.Elements(false, true) from x in Node([k, n], d)
                              select (Expr)new ReduceE(x, 0, false, mean, shape));
            options.Add(() => from k in Extent from x in Node([k], d) from w in Node([n, k], d) from b in Node([n], d)
                              select (Expr)new LinearE(x, w, b, shape));
            options.Add(() => Node(shape, d).Select(x => (Expr)new UnaryE(Op1.LogSoftmax, x, shape)));
        }
        if (rank == 0)
        {
            options.Add(() => from s in AnyShape from mean in Gen.Elements(false, true) from x in Node(s, d)
                              select (Expr)new ReduceE(x, null, false, mean, shape));
            options.Add(() => from k in Extent from mean in Gen.Elements(false, true) from x in Node([k], d)
                              select (Expr)new ReduceE(x, 0, false, mean, shape));
            options.Add(() => from b in Extent from c in Extent
                              from logits in Node([b, c], d)
                              from targets in Gen.ArrayOf(Gen.Choose(0, c - 1), b)
                              select (Expr)new CrossEntropyE(logits, targets));
            options.Add(() => from s in AnyShape from a in Node(s, d) from b in Node(s, d) select (Expr)new MseE(a, b));
        }
        return Gen.Choose(0, options.Count - 1).SelectMany(i => options[i]());
    }

    /// <summary>
    /// The options of every rank: views from another shape of as many elements, permutations, sums, means and maxima
    /// along a dimension of a tensor one rank up, broadcasting with both operands stretched, and, at ranks 3 and 4,
    /// log-softmax and Linear.
    /// </summary>
    private static void AddAnyRank(List<Func<Gen<Expr>>> options, int[] shape, int d)
    {
        int rank = shape.Length;
        var ones = Enumerable.Range(0, rank).Where(i => shape[i] == 1).ToArray();
        int numel = shape.Aggregate(1, (a, b) => a * b);
        // reshape or view from the reversed shape, or from the flat one, with one extent inferred or none
        options.Add(() => from flat in Bool from view in Bool from at in Gen.Choose(-1, rank - 1)
                          from x in Node(flat ? [numel] : shape.Reverse().ToArray(), d)
                          select (Expr)new ViewE(view ? ViewOp.View : ViewOp.Reshape, x, at, 0, shape));
        if (rank < MaxRank)
        {
            // squeeze an inserted 1
            options.Add(() => from at in Gen.Choose(0, rank) from neg in Bool from x in Node(Insert(shape, at, 1), d)
                              select (Expr)new ViewE(ViewOp.Squeeze, x, neg ? at - (rank + 1) : at, 0, shape));
            // sum, mean or max along an inserted dimension
            options.Add(() => from at in Gen.Choose(0, rank) from k in Small from neg in Bool from kind in Gen.Choose(0, 2)
                              from x in Node(Insert(shape, at, k), d)
                              select kind == 2
                                  ? (Expr)new MaxE(x, neg ? at - (rank + 1) : at, false, shape)
                                  : new ReduceE(x, neg ? at - (rank + 1) : at, false, kind == 1, shape));
        }
        if (ones.Length > 0)
        {
            options.Add(() => from at in Gen.Elements(ones) from neg in Bool from x in Node(Remove(shape, at), d)
                              select (Expr)new ViewE(ViewOp.Unsqueeze, x, neg ? at - rank : at, 0, shape));
            // the same reductions with keepDim
            options.Add(() => from at in Gen.Elements(ones) from k in Small from neg in Bool from kind in Gen.Choose(0, 2)
                              from x in Node(Replace(shape, at, k), d)
                              select kind == 2
                                  ? (Expr)new MaxE(x, neg ? at - rank : at, true, shape)
                                  : new ReduceE(x, neg ? at - rank : at, true, kind == 1, shape));
        }
        if (rank == 1 && shape[0] == 1)
            options.Add(() => Node([], d).Select(x => (Expr)new ViewE(ViewOp.Flatten, x, 0, -1, shape)));
        if (rank is > 0 and < MaxRank)
            // flatten two dimensions whose extents multiply to one of this shape's
            options.Add(() => from at in Gen.Choose(0, rank - 1)
                              from f in Gen.Elements(Enumerable.Range(1, shape[at]).Where(v => shape[at] % v == 0).ToArray())
                              from neg in Bool
                              from x in Node([.. shape[..at], f, shape[at] / f, .. shape[(at + 1)..]], d)
                              select (Expr)new ViewE(ViewOp.Flatten, x, neg ? at - (rank + 1) : at, neg ? at - rank : at + 1, shape));
        if (rank >= 2)
        {
            options.Add(() => from p in Permutation(rank) from neg in Bool
                              from x in Node(Unpermuted(shape, p), d)
                              select (Expr)new PermuteE(x, neg ? p.Select(v => v - rank).ToArray() : p, shape));
            // both operands stretched: a has 1 where the mask is set, b where it is not
            options.Add(() => from mask in Gen.Choose(0, (1 << rank) - 1)
                              from op in Gen.Elements(Op2.Add, Op2.Sub, Op2.Mul, Op2.Div)
                              from a in Node(Enumerable.Range(0, rank).Select(i => (mask >> i & 1) == 1 ? 1 : shape[i]).ToArray(), d)
                              from b in op == Op2.Div
                                  ? Positive(Enumerable.Range(0, rank).Select(i => (mask >> i & 1) == 1 ? shape[i] : 1).ToArray(), d)
                                  : Node(Enumerable.Range(0, rank).Select(i => (mask >> i & 1) == 1 ? shape[i] : 1).ToArray(), d)
                              select (Expr)new BinaryE(op, a, b, shape));
        }
        if (rank >= 3)
        {
            options.Add(() => Node(shape, d).Select(x => (Expr)new UnaryE(Op1.LogSoftmax, x, shape)));
            options.Add(() => from k in Small from bias in Bool
                              from x in Node([.. shape[..^1], k], d) from w in Node([shape[^1], k], d) from b in Node([shape[^1]], d)
                              select (Expr)new LinearE(x, w, bias ? b : null, shape));
        }
        if (rank == 0)
            options.Add(() => from s in AnyShape34 from x in Node(s, d) select (Expr)new MaxE(x, null, false, shape));
    }

    /// <summary>The shape that <c>Permute(p)</c> takes to <paramref name="shape"/>: extent <c>shape[i]</c> at <c>p[i]</c>.</summary>
    private static int[] Unpermuted(int[] shape, int[] p)
    {
        var input = new int[shape.Length];
        for (int i = 0; i < p.Length; i++) input[p[i]] = shape[i];
        return input;
    }

    /// <summary>Keeps exponentials and cubes of deep graphs in range.</summary>
    private static Expr Tame(Op1 op, Expr x) => op is Op1.Exp or Op1.Pow3 ? new UnaryE(Op1.Tanh, x, x.Shape) : x;

    /// <summary>A graph whose values are at least 0.5: the domain of log, fractional powers and divisors.</summary>
    private static Gen<Expr> Positive(int[] shape, int depth) =>
        from x in Node(shape, depth)
        from form in Gen.Choose(0, 2)
        select form switch
        {
            0 => (Expr)new ConstE(Op2.Add, new UnaryE(Op1.Pow2, x, shape), 0.5f, false),
            1 => new ConstE(Op2.Add, new UnaryE(Op1.Sigmoid, x, shape), 0.5f, false),
            _ => new UnaryE(Op1.Exp, new UnaryE(Op1.Tanh, x, shape), shape),
        };

    /// <summary>
    /// The shapes that broadcast onto <paramref name="shape"/> without changing it: a suffix of it (leading dimensions
    /// dropped) with any of its extents set to 1.
    /// </summary>
    private static int[][] Smaller(int[] shape)
    {
        var all = new List<int[]>();
        for (int drop = 0; drop <= shape.Length; drop++)
        {
            var rest = shape[drop..];
            for (int mask = 0; mask < 1 << rest.Length; mask++)
                all.Add(rest.Select((e, i) => (mask >> i & 1) == 1 ? 1 : e).ToArray());
        }
        return all.Distinct(new ShapeComparer()).ToArray();
    }

    private sealed class ShapeComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? x, int[]? y) => x!.SequenceEqual(y!);

        public int GetHashCode(int[] s) => s.Aggregate(s.Length, (h, e) => h * 31 + e);
    }

    /// <summary>Shapes of rank 3 and 4 with small extents.</summary>
    private static Gen<int[]> Shape34 =>
        from rank in Gen.Choose(3, 4) from s in Gen.ArrayOf(Small, rank) select s;

    private static Gen<int[]> AnyShape34 => Gen.OneOf(AnyShape, Shape34);

    private static Gen<int[]> AnyShape =>
        Gen.OneOf(Gen.Constant(Array.Empty<int>()), Extent.Select(n => new[] { n }), Extent.SelectMany(m => Extent.Select(n => new[] { m, n })));

    private static Gen<GraphCase> Graphs =>
        from depth in Gen.Choose(1, 3)
        from root in Node([], depth)
        from seed in Gen.Choose(0, int.MaxValue)
        select new GraphCase(root, seed);

    /// <summary>The leaves of a graph, by (id, shape), with their shapes and float32 values (drawn in [-1.5, 1.5]).</summary>
    private static Dictionary<string, (int[] Shape, float[] Values)> Leaves(GraphCase g)
    {
        var leaves = new Dictionary<string, (int[], float[])>();
        var r = new Random(g.Seed);
        void Visit(Expr e)
        {
            switch (e)
            {
                case LeafE l:
                    if (!leaves.ContainsKey(Key(l)))
                        leaves[Key(l)] = (l.S, Enumerable.Range(0, l.S.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(r.NextDouble() * 3 - 1.5)).ToArray());
                    break;
                case UnaryE u: Visit(u.X); break;
                case BinaryE b: Visit(b.A); Visit(b.B); break;
                case ConstE c: Visit(c.X); break;
                case MatMulE m: Visit(m.A); Visit(m.B); break;
                case LinearE li: Visit(li.X); Visit(li.W); if (li.Bias is not null) Visit(li.Bias); break;
                case ReduceE re: Visit(re.X); break;
                case RowsE ro: Visit(ro.X); break;
                case CrossEntropyE ce: Visit(ce.Logits); break;
                case MseE ms: Visit(ms.A); Visit(ms.B); break;
                case ViewE v: Visit(v.X); break;
                case PermuteE pe: Visit(pe.X); break;
                case MaxE mx: Visit(mx.X); break;
            }
        }
        Visit(g.Root);
        return leaves;
    }

    /// <summary>The shape with the extent at <paramref name="at"/> given as -1 (none when it is -1).</summary>
    private static int[] Inferred(int[] shape, int at) => at < 0 ? shape : Replace(shape, at, -1);

    private static string Key(LeafE l) => $"{l.Id}:{string.Join(",", l.S)}";

    /// <summary>Evaluates a graph with the library, each distinct node once (so a reused node is a shared subexpression).</summary>
    private static Tensor Eval32(Expr e, Dictionary<string, Tensor> leaves, Dictionary<Expr, Tensor> memo)
    {
        if (memo.TryGetValue(e, out var done)) return done;
        Tensor T(Expr x) => Eval32(x, leaves, memo);
        Tensor result = e switch
        {
            LeafE l => leaves[Key(l)],
            UnaryE u => u.Op switch
            {
                Op1.Neg => -T(u.X),
                Op1.Exp => T(u.X).Exp(),
                Op1.Log => T(u.X).Log(),
                Op1.Relu => T(u.X).Relu(),
                Op1.Tanh => T(u.X).Tanh(),
                Op1.Sigmoid => T(u.X).Sigmoid(),
                Op1.Pow2 => T(u.X).Pow(2),
                Op1.Pow3 => T(u.X).Pow(3),
                Op1.Pow15 => T(u.X).Pow(1.5f),
                Op1.Transpose => T(u.X).T(),
                _ => T(u.X).LogSoftmax(),
            },
            BinaryE b => b.Op switch
            {
                Op2.Add => T(b.A) + T(b.B),
                Op2.Sub => T(b.A) - T(b.B),
                Op2.Mul => T(b.A) * T(b.B),
                _ => T(b.A) / T(b.B),
            },
            ConstE c => (c.Op, c.ConstFirst) switch
            {
                (Op2.Add, true) => c.C + T(c.X),
                (Op2.Add, false) => T(c.X) + c.C,
                (Op2.Sub, true) => c.C - T(c.X),
                (Op2.Sub, false) => T(c.X) - c.C,
                (Op2.Mul, true) => c.C * T(c.X),
                (Op2.Mul, false) => T(c.X) * c.C,
                (Op2.Div, true) => c.C / T(c.X),
                _ => T(c.X) / c.C,
            },
            MatMulE m => T(m.A).MatMul(T(m.B)),
            LinearE li => Functional.Linear(T(li.X), T(li.W), li.Bias is null ? null : T(li.Bias)),
            ReduceE r => (r.Dim, r.Mean) switch
            {
                (null, false) => T(r.X).Sum(),
                (null, true) => T(r.X).Mean(),
                ({ } dim, false) => T(r.X).Sum(dim, r.KeepDim),
                ({ } dim, true) => T(r.X).Mean(dim, r.KeepDim),
            },
            RowsE ro => ro.Squeeze ? T(ro.X)[ro.Start] : T(ro.X)[ro.Start..(ro.Start + ro.Count)],
            CrossEntropyE ce => Functional.CrossEntropy(T(ce.Logits), new Tensor(ce.Targets.Select(t => (float)t).ToArray(), ce.Targets.Length)),
            MseE ms => Functional.MseLoss(T(ms.A), T(ms.B)),
            ViewE v => v.Op switch
            {
                ViewOp.Reshape => T(v.X).Reshape(Inferred(v.S, v.A)),
                ViewOp.View => T(v.X).View(Inferred(v.S, v.A)),
                ViewOp.Flatten => T(v.X).Flatten(v.A, v.B),
                ViewOp.Squeeze => T(v.X).Squeeze(v.A),
                _ => T(v.X).Unsqueeze(v.A),
            },
            PermuteE pe => T(pe.X).Permute(pe.Dims),
            MaxE mx => mx.Dim is { } md ? T(mx.X).Max(md, mx.KeepDim).Values : T(mx.X).Max(),
            _ => throw new InvalidOperationException(e.ToString()),
        };
        Assert.Equal(e.Shape, result.Shape.ToArray());
        memo[e] = result;
        return result;
    }

    /// <summary>Evaluates a graph with the float64 reference; records how close any ReLU input came to its kink.</summary>
    private static D Eval64(Expr e, Dictionary<string, double[]> leaves, ref double kink)
    {
        double k = kink;
        D R(Expr x) => Eval64(x, leaves, ref k);
        D result;
        switch (e)
        {
            case LeafE l: result = new D(leaves[Key(l)], l.S); break;
            case UnaryE u:
                var x = R(u.X);
                if (u.Op == Op1.Relu) foreach (var v in x.Data) k = Math.Min(k, Math.Abs(v));
                result = u.Op switch
                {
                    Op1.Neg => Reference.Map(x, v => -v),
                    Op1.Exp => Reference.Map(x, Math.Exp),
                    Op1.Log => Reference.Map(x, Math.Log),
                    Op1.Relu => Reference.Map(x, Reference.Relu),
                    Op1.Tanh => Reference.Map(x, Math.Tanh),
                    Op1.Sigmoid => Reference.Map(x, Reference.Sigmoid),
                    Op1.Pow2 => Reference.Map(x, v => v * v),
                    Op1.Pow3 => Reference.Map(x, v => v * v * v),
                    Op1.Pow15 => Reference.Map(x, v => Math.Pow(v, 1.5)),
                    Op1.Transpose => Reference.Transpose(x),
                    _ => Reference.LogSoftmax(x),
                };
                break;
            case BinaryE b: result = Reference.Broadcast(R(b.A), R(b.B), Fn(b.Op)); break;
            case ConstE c:
                var cx = R(c.X);
                var cd = new D([c.C], []);
                result = c.ConstFirst ? Reference.Broadcast(cd, cx, Fn(c.Op)) : Reference.Broadcast(cx, cd, Fn(c.Op));
                break;
            case MatMulE m: result = Reference.MatMul(R(m.A), R(m.B)); break;
            case LinearE li: result = Reference.Linear(R(li.X), R(li.W), li.Bias is null ? null : R(li.Bias)); break;
            case ReduceE r: result = Reference.Reduce(R(r.X), r.Dim, r.KeepDim, r.Mean); break;
            case RowsE ro: result = Reference.Rows(R(ro.X), ro.Start, ro.Count, ro.Squeeze); break;
            case CrossEntropyE ce: result = Reference.CrossEntropy(R(ce.Logits), ce.Targets); break;
            case MseE ms: result = Reference.Mse(R(ms.A), R(ms.B)); break;
            case ViewE v: result = new D(R(v.X).Data, v.S); break;
            case PermuteE pe: result = Reference.Permute(R(pe.X), pe.Dims); break;
            case MaxE mx:
                var mxx = R(mx.X);
                // finite differences hold only where the maximum does not change hands within the step
                k = Math.Min(k, Reference.MaxGap(mxx, mx.Dim));
                result = Reference.Max(mxx, mx.Dim, mx.KeepDim);
                break;
            default: throw new InvalidOperationException(e.ToString());
        }
        kink = k;
        return result;
    }

    private static Func<double, double, double> Fn(Op2 op) => op switch
    {
        Op2.Add => (a, b) => a + b,
        Op2.Sub => (a, b) => a - b,
        Op2.Mul => (a, b) => a * b,
        _ => (a, b) => a / b,
    };

    /// <summary>
    /// How far a float32 autodiff gradient may be from the float64 finite difference: float32 rounding through a few
    /// operations stays near 1e-6 relative (the worst seen over many thousand graphs is below 1e-6·(1 + |fd|)), so
    /// this leaves a wide margin while still catching a gradient off by a few parts in 10⁴.
    /// </summary>
    private static double Tolerance(double fd) => 1e-4 + 1e-4 * Math.Abs(fd);

    /// <summary>Checks one graph; false when it comes too close to a ReLU kink for finite differences to hold.</summary>
    private static bool GradientsMatch(GraphCase g)
    {
        var values = Leaves(g);
        var leaves = values.ToDictionary(kv => kv.Key, kv =>
        {
            var (shape, v) = kv.Value;
            var t = shape.Length == 0 ? Tensor.Scalar(v[0]) : new Tensor((float[])v.Clone(), shape);
            t.RequiresGrad = true;
            return t;
        });
        var root = Eval32(g.Root, leaves, new Dictionary<Expr, Tensor>(ReferenceEqualityComparer.Instance));
        var doubles = values.ToDictionary(kv => kv.Key, kv => kv.Value.Values.Select(v => (double)v).ToArray());
        double kink = double.PositiveInfinity;
        double f0 = Eval64(g.Root, doubles, ref kink).Data[0];
        if (kink < 1e-3) return false;
        Assert.True(Math.Abs(root.Item() - f0) <= 1e-4 + 1e-4 * Math.Abs(f0), $"forward: {root.Item()} vs reference {f0}");
        root.Backward();
        const double h = 1e-6;
        foreach (var (key, x) in doubles)
        {
            var grad = leaves[key].Grad;
            for (int i = 0; i < x.Length; i++)
            {
                double keep = x[i], ignore = double.PositiveInfinity;
                x[i] = keep + h;
                double up = Eval64(g.Root, doubles, ref ignore).Data[0];
                x[i] = keep - h;
                double down = Eval64(g.Root, doubles, ref ignore).Data[0];
                x[i] = keep;
                double fd = (up - down) / (2 * h);
                double ad = grad?[i] ?? 0;
                Assert.True(Math.Abs(ad - fd) <= Tolerance(fd),
                    $"d/d x{key}[{i}]: autodiff {ad}, finite differences {fd}");
            }
        }
        return true;
    }

    [Fact]
    public void AutodiffGradientsEqualFiniteDifferencesOfAFloat64ReferenceOnRandomGraphsOfEveryOp()
    {
        int checkedGraphs = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1000).WithMaxRejected(5000),
            Prop.ForAll(Graphs.ToArbitrary(), g =>
            {
                bool usable = GradientsMatch(g);
                if (usable) checkedGraphs++;
                return Prop.When(usable, () => { });
            }));
        Assert.True(checkedGraphs >= 1000);
    }

    private static Gen<GraphCase> Graphs34 =>
        from depth in Gen.Choose(1, 3)
        from shape in Shape34
        from mean in Bool
        from x in Node(shape, depth)
        from seed in Gen.Choose(0, int.MaxValue)
        select new GraphCase(new ReduceE(x, null, false, mean, []), seed);

    [Fact]
    public void AutodiffGradientsEqualFiniteDifferencesOnRandomGraphsOverRank3And4Tensors()
    {
        int checkedGraphs = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(400).WithMaxRejected(2000),
            Prop.ForAll(Graphs34.ToArbitrary(), g =>
            {
                bool usable = GradientsMatch(g);
                if (usable) checkedGraphs++;
                return Prop.When(usable, () => { });
            }));
        Assert.True(checkedGraphs >= 400);
    }

    [Fact]
    public void TheGradientCheckWouldCatchAWrongGradient()
    {
        // x·x against a reference off by 0.1%: the same comparison must fail
        var x = new Tensor([0.7f, -1.2f]) { RequiresGrad = true };
        (x * x).Sum().Backward();
        double fd = 2 * 0.7 * 1.001;
        Assert.False(Math.Abs(x.Grad![0] - fd) <= Tolerance(fd));
    }
}
