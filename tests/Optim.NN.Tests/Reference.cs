namespace Optim.NN.Tests;

/// <summary>A float64 tensor of rank 0 to 4, for the reference implementation.</summary>
public sealed record D(double[] Data, int[] Shape)
{
    public int Rows => Shape.Length == 2 ? Shape[0] : 1;
    public int Cols => Shape.Length == 0 ? 1 : Shape[^1];
}

/// <summary>
/// The forward pass of every Optim.NN operation written again, plainly, in float64 from the mathematical
/// definitions and PyTorch's documented semantics (broadcasting, reductions, log-softmax, cross-entropy, MSE). It
/// shares no code with the library; the gradient check differentiates it by central differences.
/// </summary>
public static class Reference
{
    public static D Map(D x, Func<double, double> f) => new(x.Data.Select(f).ToArray(), x.Shape);

    public static double Relu(double x) => x > 0 ? x : 0;

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>The row-major strides of a shape.</summary>
    private static int[] StridesOf(int[] shape)
    {
        var st = new int[shape.Length];
        for (int i = shape.Length - 1, s = 1; i >= 0; s *= shape[i], i--) st[i] = s;
        return st;
    }

    /// <summary>The multi-index of flat position <paramref name="k"/> in <paramref name="shape"/>.</summary>
    private static int[] Unravel(int k, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = k % shape[i];
            k /= shape[i];
        }
        return idx;
    }

    /// <summary>PyTorch broadcasting, ranks ≤ 4: align on the right; extents equal, or 1 and stretched.</summary>
    public static D Broadcast(D a, D b, Func<double, double, double> f)
    {
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        int[] ea = [.. Enumerable.Repeat(1, rank - a.Shape.Length), .. a.Shape];
        int[] eb = [.. Enumerable.Repeat(1, rank - b.Shape.Length), .. b.Shape];
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            if (ea[i] != eb[i] && ea[i] != 1 && eb[i] != 1) throw new InvalidOperationException("shapes do not broadcast");
            shape[i] = ea[i] == 1 ? eb[i] : ea[i];
        }
        int[] sa = StridesOf(ea), sb = StridesOf(eb);
        int n = shape.Aggregate(1, (x, y) => x * y);
        var data = new double[n];
        for (int k = 0; k < n; k++)
        {
            var idx = Unravel(k, shape);
            int ia = 0, ib = 0;
            for (int i = 0; i < rank; i++)
            {
                if (ea[i] != 1) ia += idx[i] * sa[i];
                if (eb[i] != 1) ib += idx[i] * sb[i];
            }
            data[k] = f(a.Data[ia], b.Data[ib]);
        }
        return new D(data, shape);
    }

    public static D MatMul(D a, D b)
    {
        int m = a.Shape[0], k = a.Shape[1], n = b.Shape[1];
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a.Data[i * k + p] * b.Data[p * n + j];
                y[i * n + j] = s;
            }
        return new D(y, [m, n]);
    }

    public static D Transpose(D a)
    {
        if (a.Shape.Length < 2) return a;
        int m = a.Shape[0], n = a.Shape[1];
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) y[j * m + i] = a.Data[i * n + j];
        return new D(y, [n, m]);
    }

    /// <summary>x·wᵀ + b for x [*, in], w [out, in], b [out] or none.</summary>
    public static D Linear(D x, D w, D? b)
    {
        int outF = w.Shape[0], inF = w.Shape[1], m = x.Shape[..^1].Aggregate(1, (p, e) => p * e);
        var y = new double[m * outF];
        for (int i = 0; i < m; i++)
            for (int o = 0; o < outF; o++)
            {
                double s = b?.Data[o] ?? 0;
                for (int p = 0; p < inF; p++) s += x.Data[i * inF + p] * w.Data[o * inF + p];
                y[i * outF + o] = s;
            }
        return new D(y, [.. x.Shape[..^1], outF]);
    }

    /// <summary>Sum or mean of everything (dim null), or along a dimension.</summary>
    public static D Reduce(D x, int? dim, bool keepDim, bool mean)
    {
        if (dim is null)
        {
            double s = x.Data.Sum();
            return new D([mean ? s / x.Data.Length : s], []);
        }
        int rank = x.Shape.Length, d = dim.Value < 0 ? dim.Value + rank : dim.Value;
        var shape = x.Shape;
        int[] outShape = keepDim ? shape.Select((e, i) => i == d ? 1 : e).ToArray() : shape.Where((_, i) => i != d).ToArray();
        var y = new double[outShape.Aggregate(1, (p, e) => p * e)];
        // every element adds into the output position with its index along d dropped
        for (int k = 0; k < x.Data.Length; k++)
            y[ReducedPosition(Unravel(k, shape), shape, d)] += x.Data[k];
        if (mean) for (int k = 0; k < y.Length; k++) y[k] /= shape[d];
        return new D(y, outShape);
    }

    private static int ReducedPosition(int[] idx, int[] shape, int d)
    {
        int pos = 0;
        for (int i = 0; i < shape.Length; i++)
            if (i != d) pos = pos * shape[i] + idx[i];
        return pos;
    }

    /// <summary>max of everything (dim null), or the maxima along a dimension.</summary>
    public static D Max(D x, int? dim, bool keepDim)
    {
        if (dim is null) return new D([x.Data.Max()], []);
        var shape = x.Shape;
        int d = dim.Value < 0 ? dim.Value + shape.Length : dim.Value;
        int[] outShape = keepDim ? shape.Select((e, i) => i == d ? 1 : e).ToArray() : shape.Where((_, i) => i != d).ToArray();
        var y = Enumerable.Repeat(double.NegativeInfinity, outShape.Aggregate(1, (p, e) => p * e)).ToArray();
        for (int k = 0; k < x.Data.Length; k++)
        {
            int at = ReducedPosition(Unravel(k, shape), shape, d);
            y[at] = Math.Max(y[at], x.Data[k]);
        }
        return new D(y, outShape);
    }

    /// <summary>The smallest gap between a maximum and the runner-up in its slice (infinite for slices of one).</summary>
    public static double MaxGap(D x, int? dim)
    {
        var shape = x.Shape;
        int d = dim is null ? -1 : dim.Value < 0 ? dim.Value + shape.Length : dim.Value;
        var slices = new Dictionary<int, List<double>>();
        for (int k = 0; k < x.Data.Length; k++)
        {
            int at = d < 0 ? 0 : ReducedPosition(Unravel(k, shape), shape, d);
            if (!slices.TryGetValue(at, out var list)) slices[at] = list = [];
            list.Add(x.Data[k]);
        }
        double gap = double.PositiveInfinity;
        foreach (var list in slices.Values)
            if (list.Count > 1)
            {
                var top = list.OrderByDescending(v => v).Take(2).ToArray();
                gap = Math.Min(gap, top[0] - top[1]);
            }
        return gap;
    }

    /// <summary>x.permute(dims): result index i along dimension j is x's index along dims[j].</summary>
    public static D Permute(D x, int[] dims)
    {
        int rank = x.Shape.Length;
        var order = dims.Select(v => v < 0 ? v + rank : v).ToArray();
        var shape = order.Select(v => x.Shape[v]).ToArray();
        var st = StridesOf(x.Shape);
        var y = new double[x.Data.Length];
        for (int k = 0; k < y.Length; k++)
        {
            var idx = Unravel(k, shape);
            int src = 0;
            for (int j = 0; j < rank; j++) src += idx[j] * st[order[j]];
            y[k] = x.Data[src];
        }
        return new D(y, shape);
    }

    /// <summary>log softmax along the last dimension: x_j − log Σ_k exp(x_k).</summary>
    public static D LogSoftmax(D x)
    {
        int cols = x.Cols, rows = x.Data.Length / cols;
        var y = new double[x.Data.Length];
        for (int i = 0; i < rows; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < cols; j++) max = Math.Max(max, x.Data[i * cols + j]);
            double s = 0;
            for (int j = 0; j < cols; j++) s += Math.Exp(x.Data[i * cols + j] - max);
            double lse = max + Math.Log(s);
            for (int j = 0; j < cols; j++) y[i * cols + j] = x.Data[i * cols + j] - lse;
        }
        return new D(y, x.Shape);
    }

    /// <summary>nn.CrossEntropyLoss(): the batch mean of −log softmax(x_i)[t_i].</summary>
    public static D CrossEntropy(D logits, int[] targets)
    {
        var lp = LogSoftmax(logits);
        int c = logits.Shape[1];
        double s = 0;
        for (int i = 0; i < targets.Length; i++) s -= lp.Data[i * c + targets[i]];
        return new D([s / targets.Length], []);
    }

    /// <summary>nn.MSELoss(): mean of squared differences.</summary>
    public static D Mse(D a, D b)
    {
        double s = 0;
        for (int i = 0; i < a.Data.Length; i++) s += (a.Data[i] - b.Data[i]) * (a.Data[i] - b.Data[i]);
        return new D([s / a.Data.Length], []);
    }

    /// <summary>x[start:start+count] along the first dimension; squeeze: x[start] (drops the dimension).</summary>
    public static D Rows(D x, int start, int count, bool squeeze)
    {
        var rest = x.Shape[1..];
        int width = rest.Aggregate(1, (p, e) => p * e);
        var y = x.Data.Skip(start * width).Take(count * width).ToArray();
        int[] shape = squeeze ? rest : [count, .. rest];
        return new D(y, shape);
    }
}
