using System.Numerics;
using System.Runtime.InteropServices;
using Optim;

namespace Optim.CSharp;

/// <summary>
/// A trainable tensor, as <c>torch.nn.Parameter</c>: a live float32 buffer that <see cref="Optimizer.Step"/>
/// updates in place, its shape, and its accumulated gradient.
/// </summary>
public sealed class Parameter
{
    private float[]? _grad;
    // a sparse gradient, kept apart from _grad (at most one of them is set): rows (repeats allowed) and their values
    private List<int>? _sparseRows;
    private List<float>? _sparseValues;

    /// <summary>Wraps a buffer as a parameter. The buffer is not copied: it is the live value.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions; omitted, <c>[data.Length]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape's element count is not <c>data.Length</c>, or an extent is negative.</exception>
    public Parameter(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape is null || shape.Length == 0 ? [data.Length] : (int[])shape.Clone();
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Every extent must be 0 or more, but the shape is [{string.Join(", ", shape)}].", nameof(shape));
            n *= d;
        }
        if (n != data.Length)
            throw new ArgumentException($"The shape [{string.Join(", ", shape)}] holds {n} elements, but data has {data.Length}.", nameof(shape));
        Data = data;
        Shape = shape;
    }

    /// <summary>The live values, updated in place by <see cref="Optimizer.Step"/>.</summary>
    public float[] Data { get; }

    /// <summary>
    /// How many times <see cref="Data"/> was changed in place by the library (PyTorch's <c>tensor._version</c>): each
    /// <see cref="Optimizer.Step"/> that updates the parameter, and each <see cref="MarkModified"/>, adds one. Autograd
    /// (Optim.NN) records it when an operation saves the parameter for its backward pass, and refuses to differentiate
    /// through a value that has changed since, as PyTorch raises "modified by an inplace operation".
    /// </summary>
    public int Version { get; private set; }

    /// <summary>
    /// Records that <see cref="Data"/> was changed in place (call it after writing the array yourself, as PyTorch's
    /// in-place operations bump the version), so that a backward pass through a graph built before fails clearly
    /// instead of using the new values.
    /// </summary>
    public void MarkModified() => Version = unchecked(Version + 1);

    /// <summary>The dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>The number of elements.</summary>
    public int Numel => Data.Length;

    /// <summary>
    /// The accumulated dense gradient, or null when the parameter has none (PyTorch's <c>p.grad is None</c>): then,
    /// unless it has a sparse gradient (<see cref="HasSparseGrad"/>), <see cref="Optimizer.Step"/> leaves the
    /// parameter and its state untouched. Setting it drops a sparse gradient.
    /// </summary>
    /// <exception cref="ArgumentException">On set: the array's length is not <see cref="Numel"/>.</exception>
    public float[]? Grad
    {
        get => _grad;
        set
        {
            if (value is not null && value.Length != Data.Length)
                throw new ArgumentException(
                    $"A gradient of {value.Length} elements does not fit parameter{NameSuffix} of shape [{string.Join(", ", Shape)}] ({Data.Length} elements).",
                    nameof(value));
            _grad = value;
            _sparseRows = null;
            _sparseValues = null;
        }
    }

    /// <summary>
    /// Whether the parameter holds a sparse gradient (from <see cref="AccumulateSparseGrad"/>), as PyTorch's
    /// <c>p.grad.is_sparse</c>. <see cref="Grad"/> is then null.
    /// </summary>
    public bool HasSparseGrad => _sparseRows is not null;

    /// <summary>The elements of one row (a slice along the first dimension): <c>Numel / Shape[0]</c>.</summary>
    private int RowWidth => Shape.Length == 0 || Shape[0] == 0 ? 0 : Data.Length / Shape[0];

    /// <summary>
    /// Adds a sparse gradient (whole rows along the first dimension, as <c>nn.Embedding(sparse=True)</c> produces)
    /// into the parameter's gradient. Rows may repeat; they are summed when the optimizer steps. Onto a dense
    /// <see cref="Grad"/> the rows are added densely, as PyTorch adds a sparse gradient to a dense one.
    /// <see cref="SparseAdam"/>, <see cref="SGD"/> and <see cref="Adagrad"/> step on a sparse gradient, as in PyTorch 1.13.
    /// </summary>
    /// <param name="rows">The row indices, each in <c>[0, Shape[0])</c>.</param>
    /// <param name="values">The rows' values, row-major: <c>rows.Length × (Numel / Shape[0])</c> elements.</param>
    /// <exception cref="ArgumentException">A row is out of range, or the values do not hold one row per index, or the
    /// parameter is a scalar; the gradient is then unchanged.</exception>
    public void AccumulateSparseGrad(ReadOnlySpan<int> rows, ReadOnlySpan<float> values)
    {
        if (Shape.Length == 0)
            throw new ArgumentException($"Parameter{NameSuffix} is a scalar; a sparse gradient needs rows along a first dimension.", nameof(rows));
        int width = RowWidth;
        if (values.Length != rows.Length * width)
            throw new ArgumentException(
                $"{rows.Length} rows of parameter{NameSuffix} of shape [{string.Join(", ", Shape)}] need {rows.Length * width} values, but {values.Length} were given.",
                nameof(values));
        foreach (var r in rows)
            if (r < 0 || r >= Shape[0])
                throw new ArgumentOutOfRangeException(nameof(rows), r, $"Row {r} is out of range for parameter{NameSuffix} of shape [{string.Join(", ", Shape)}].");
        if (_grad is not null)
        {
            for (int k = 0; k < rows.Length; k++)
                for (int j = 0; j < width; j++) _grad[rows[k] * width + j] += values[k * width + j];
            return;
        }
        _sparseRows ??= new List<int>();
        _sparseValues ??= new List<float>();
        _sparseRows.AddRange(rows);
        _sparseValues.AddRange(values);
    }

    /// <summary>The sparse gradient as the core takes it: each row once, in order, repeats summed.</summary>
    internal SparseGradient CoalescedSparseGrad() =>
        SparseGradientModule.coalesce(RowWidth, new SparseGradient(_sparseRows!.ToArray(), _sparseValues!.ToArray()));

    /// <summary>The elements of one row, for the sparse step.</summary>
    internal int SparseRowWidth => RowWidth;

    /// <summary>Drops the gradient, or zeroes it in place (a sparse one then keeps no rows).</summary>
    internal void ZeroGrad(bool setToNone)
    {
        if (setToNone)
        {
            _grad = null;
            _sparseRows = null;
            _sparseValues = null;
            return;
        }
        if (_grad is not null) Array.Clear(_grad);
        _sparseRows?.Clear();
        _sparseValues?.Clear();
    }

    /// <summary>An optional name, recorded in <see cref="StateDict"/> so that a mis-mapped load fails clearly.</summary>
    public string? Name { get; set; }

    /// <summary>Whether optimizers update this parameter (default true). When false, <see cref="Optimizer.Step"/> skips it.</summary>
    public bool RequiresGrad { get; set; } = true;

    /// <summary>
    /// Adds a gradient into <see cref="Grad"/> (creating it when null), as every <c>backward()</c> does in
    /// PyTorch: gradients accumulate until <see cref="Optimizer.ZeroGrad"/>. A sparse gradient accumulated
    /// before is made dense first, as PyTorch adds a dense gradient to a sparse one.
    /// </summary>
    /// <param name="grad">The gradient to add, of length <see cref="Numel"/>.</param>
    /// <exception cref="ArgumentException">The length is not <see cref="Numel"/>; <see cref="Grad"/> is then unchanged.</exception>
    public void AccumulateGrad(ReadOnlySpan<float> grad)
    {
        if (grad.Length != Data.Length)
            throw new ArgumentException(
                $"A gradient of {grad.Length} elements does not fit parameter{NameSuffix} of shape [{string.Join(", ", Shape)}] ({Data.Length} elements).",
                nameof(grad));
        if (_sparseRows is not null)
        {
            // a dense gradient onto a sparse one makes it dense, as in PyTorch
            _grad = SparseGradientModule.toDense(Shape, new SparseGradient(_sparseRows.ToArray(), _sparseValues!.ToArray()));
            _sparseRows = null;
            _sparseValues = null;
        }
        if (_grad is null)
        {
            _grad = grad.ToArray();
            return;
        }
        var acc = _grad.AsSpan();
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(acc);
            var vg = MemoryMarshal.Cast<float, Vector<float>>(grad);
            for (int k = 0; k < va.Length; k++) va[k] += vg[k];
            i = va.Length * Vector<float>.Count;
        }
        for (; i < acc.Length; i++) acc[i] += grad[i];
    }

    private string NameSuffix => Name is null ? "" : $" '{Name}'";

    /// <inheritdoc />
    public override string ToString() => $"Parameter{NameSuffix}[{string.Join(", ", Shape)}]";
}
