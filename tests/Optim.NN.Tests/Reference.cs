namespace Optim.NN.Tests;

/// <summary>A float64 tensor of rank 0 to 2, for the reference implementation.</summary>
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

    /// <summary>PyTorch broadcasting, ranks ≤ 2: align on the right; extents equal, or 1 and stretched.</summary>
    public static D Broadcast(D a, D b, Func<double, double, double> f)
    {
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        int ar = a.Shape.Length == 2 ? a.Shape[0] : 1, ac = a.Shape.Length == 0 ? 1 : a.Shape[^1];
        int br = b.Shape.Length == 2 ? b.Shape[0] : 1, bc = b.Shape.Length == 0 ? 1 : b.Shape[^1];
        int rows = Math.Max(ar, br), cols = Math.Max(ac, bc);
        if ((ar != rows && ar != 1) || (br != rows && br != 1) || (ac != cols && ac != 1) || (bc != cols && bc != 1))
            throw new InvalidOperationException("shapes do not broadcast");
        var y = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                y[i * cols + j] = f(a.Data[(ar == 1 ? 0 : i) * ac + (ac == 1 ? 0 : j)], b.Data[(br == 1 ? 0 : i) * bc + (bc == 1 ? 0 : j)]);
        int[] shape = rank == 2 ? [rows, cols] : rank == 1 ? [cols] : [];
        return new D(y, shape);
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

    /// <summary>x·wᵀ + b for x [m, in] or [in], w [out, in], b [out] or none.</summary>
    public static D Linear(D x, D w, D? b)
    {
        int outF = w.Shape[0], inF = w.Shape[1], m = x.Shape.Length == 2 ? x.Shape[0] : 1;
        var y = new double[m * outF];
        for (int i = 0; i < m; i++)
            for (int o = 0; o < outF; o++)
            {
                double s = b?.Data[o] ?? 0;
                for (int p = 0; p < inF; p++) s += x.Data[i * inF + p] * w.Data[o * inF + p];
                y[i * outF + o] = s;
            }
        return new D(y, x.Shape.Length == 2 ? [m, outF] : [outF]);
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
        if (rank == 1)
        {
            double s = x.Data.Sum();
            return new D([mean ? s / x.Data.Length : s], keepDim ? [1] : []);
        }
        int rows = x.Shape[0], cols = x.Shape[1];
        if (d == 0)
        {
            var y = new double[cols];
            for (int j = 0; j < cols; j++)
            {
                double s = 0;
                for (int i = 0; i < rows; i++) s += x.Data[i * cols + j];
                y[j] = mean ? s / rows : s;
            }
            return new D(y, keepDim ? [1, cols] : [cols]);
        }
        else
        {
            var y = new double[rows];
            for (int i = 0; i < rows; i++)
            {
                double s = 0;
                for (int j = 0; j < cols; j++) s += x.Data[i * cols + j];
                y[i] = mean ? s / cols : s;
            }
            return new D(y, keepDim ? [rows, 1] : [rows]);
        }
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
        int width = x.Shape.Length == 2 ? x.Shape[1] : 1;
        var y = x.Data.Skip(start * width).Take(count * width).ToArray();
        int[] shape = x.Shape.Length == 2 ? (squeeze ? [width] : [count, width]) : (squeeze ? [] : [count]);
        return new D(y, shape);
    }
}
