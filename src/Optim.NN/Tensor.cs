using System.Numerics.Tensors;
using Optim.CSharp;
using Optim.NN.Autograd;

namespace Optim.NN;

/// <summary>
/// A float32 tensor of rank 0 (a scalar) to 4 (NCHW images), row-major, that records the operations applied to it so that
/// <see cref="Backward"/> can compute gradients, as <c>torch.Tensor</c> with <c>requires_grad</c>. Higher ranks are
/// not supported.
/// </summary>
/// <remarks>
/// A tensor is a <em>leaf</em> when it was made by the user (a constructor, <see cref="FromParameter"/>) and a
/// <em>result</em> when an operation made it. Results of operations on tensors that require a gradient record
/// their operation and require a gradient too (unless inside <see cref="NoGrad"/>). <see cref="Backward"/> adds into
/// the <see cref="Grad"/> of the leaves that require one. Tensors are not thread-safe.
/// </remarks>
public sealed partial class Tensor
{
    private readonly int[] _shape;
    private readonly Parameter? _parameter;
    private float[]? _grad;
    private bool _requiresGrad;

    /// <summary>Wraps a buffer as a leaf tensor. The buffer is not copied: it is the live value.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions, at most four (NCHW); omitted, <c>[data.Length]</c> (a scalar is made by <see cref="Scalar"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The rank is above 4, an extent is negative, or the shape's element count is not <c>data.Length</c>.</exception>
    /// <example><code>var x = new Tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3) { RequiresGrad = true };</code></example>
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape is null || shape.Length == 0 ? [data.Length] : (int[])shape.Clone();
        int n = Shapes.Numel(shape, nameof(shape));
        if (n != data.Length)
            throw new ArgumentException($"The shape {Shapes.Format(shape)} holds {n} elements, but data has {data.Length}.", nameof(shape));
        Data = data;
        _shape = shape;
    }

    /// <summary>A leaf tensor holding a copy of a matrix.</summary>
    /// <param name="values">The values; the tensor has shape <c>[rows, columns]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    public Tensor(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        Data = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) Data[i * cols + j] = values[i, j];
        _shape = [rows, cols];
    }

    private Tensor(float[] data, int[] shape, Parameter? parameter, Node? gradFn)
    {
        Data = data;
        _shape = shape;
        _parameter = parameter;
        GradFn = gradFn;
    }

    /// <summary>
    /// A leaf tensor over a facade <see cref="Parameter"/>'s live buffer: its <see cref="RequiresGrad"/> and
    /// <see cref="Grad"/> are the parameter's, so <see cref="Backward"/> accumulates into <see cref="Parameter.Grad"/>
    /// (through <see cref="Parameter.AccumulateGrad"/>) and <see cref="Optimizer.Step"/> moves the values in place.
    /// </summary>
    /// <param name="parameter">The parameter, of rank 0 to 4.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameter"/> is null.</exception>
    /// <exception cref="ArgumentException">The parameter's rank is above 4.</exception>
    public static Tensor FromParameter(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        Shapes.Numel(parameter.Shape, nameof(parameter));
        return new Tensor(parameter.Data, (int[])parameter.Shape.Clone(), parameter, null);
    }

    /// <summary>A rank-0 leaf tensor holding one value.</summary>
    /// <param name="value">The value.</param>
    public static Tensor Scalar(float value) => new([value], [], null, null);

    /// <summary>A leaf tensor of zeros.</summary>
    /// <param name="shape">The dimensions, at most four.</param>
    /// <exception cref="ArgumentException">The rank is above 4 or an extent is negative.</exception>
    public static Tensor Zeros(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return new Tensor(new float[Shapes.Numel(shape, nameof(shape))], (int[])shape.Clone(), null, null);
    }

    /// <summary>
    /// A leaf over <paramref name="data"/> (not copied) that records nothing; <paramref name="integral"/> marks it as
    /// standing for one of PyTorch's int64 tensors (a counter such as <c>num_batches_tracked</c>), which the averaging
    /// functions of <see cref="SwaUtils"/> treat as PyTorch treats integer tensors.
    /// </summary>
    internal static Tensor Wrap(float[] data, int[] shape, bool integral = false) => new(data, shape, null, null) { IsIntegral = integral };

    /// <summary>Whether the tensor stands for an int64 tensor of PyTorch's (see <see cref="Wrap"/>).</summary>
    internal bool IsIntegral { get; private init; }

    /// <summary>An operation's result; it records <paramref name="gradFn"/> when that is not null.</summary>
    internal static Tensor Result(float[] data, int[] shape, Node? gradFn) => new(data, shape, null, gradFn);

    /// <summary>Whether an operation on these inputs must record its backward function.</summary>
    internal static bool Records(Tensor a) => GradMode.Enabled && a.RequiresGrad;

    /// <inheritdoc cref="Records(Tensor)"/>
    internal static bool Records(Tensor a, Tensor b) => GradMode.Enabled && (a.RequiresGrad || b.RequiresGrad);

    /// <summary>The live values, row-major. Writing them does not record an operation.</summary>
    public float[] Data { get; }

    /// <summary>The dimensions (empty for a scalar).</summary>
    public IReadOnlyList<int> Shape => _shape;

    internal int[] ShapeArray => _shape;

    /// <summary>The facade parameter this leaf is over, or null.</summary>
    internal Parameter? Parameter => _parameter;

    /// <summary>The number of dimensions: 0 to 4.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements.</summary>
    public int Numel => Data.Length;

    /// <summary>The backward function that made this tensor, or null for a leaf.</summary>
    internal Node? GradFn { get; }

    /// <summary>The gradient flowing into this tensor during <see cref="Backward"/>.</summary>
    internal float[]? Pending { get; set; }

    /// <summary>The traversal mark of the last backward pass that visited this tensor.</summary>
    internal int Visit { get; set; }

    /// <summary>Whether the tensor was made by the user rather than by an operation that records its gradient.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Whether gradients are computed for this tensor (<c>requires_grad</c>). Results of recorded operations always
    /// require one; on a leaf made from a <see cref="Parameter"/> this is the parameter's
    /// <see cref="Parameter.RequiresGrad"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">On set: the tensor is not a leaf (PyTorch: you can only change requires_grad flags of leaf variables).</exception>
    public bool RequiresGrad
    {
        get => GradFn is not null || (_parameter?.RequiresGrad ?? _requiresGrad);
        set
        {
            if (GradFn is not null)
                throw new InvalidOperationException("Only a leaf tensor's RequiresGrad can be changed; this tensor is the result of an operation.");
            if (_parameter is not null) _parameter.RequiresGrad = value;
            else _requiresGrad = value;
        }
    }

    /// <summary>
    /// The gradient accumulated by <see cref="Backward"/> (row-major, <see cref="Numel"/> elements), or null when
    /// none was computed. Only leaves keep one, as in PyTorch; on a leaf made from a <see cref="Parameter"/> it is
    /// <see cref="Parameter.Grad"/>. Clear it (null, or zeros) between steps, or gradients add up.
    /// </summary>
    /// <exception cref="ArgumentException">On set: the length is not <see cref="Numel"/>.</exception>
    /// <exception cref="InvalidOperationException">On set: the tensor is not a leaf.</exception>
    public float[]? Grad
    {
        get => _parameter is not null ? _parameter.Grad : _grad;
        set
        {
            if (GradFn is not null) throw new InvalidOperationException("Only a leaf tensor keeps a gradient; this tensor is the result of an operation.");
            if (value is not null && value.Length != Numel)
                throw new ArgumentException($"A gradient of {value.Length} elements does not fit a tensor of shape {Shapes.Format(_shape)}.", nameof(value));
            if (_parameter is not null) _parameter.Grad = value;
            else _grad = value;
        }
    }

    /// <summary>
    /// Computes the gradient of this one-element tensor with respect to every leaf below it that requires a
    /// gradient, and adds it into their <see cref="Grad"/> (<c>loss.backward()</c>). A leaf used several times gets
    /// the sum of its contributions; gradients of intermediate results are not kept.
    /// </summary>
    /// <param name="retainGraph">Keep the graph so that it can be differentiated again; by default a second
    /// <see cref="Backward"/> through the same graph throws, as in PyTorch.</param>
    /// <exception cref="InvalidOperationException">The tensor has more than one element, does not require a gradient,
    /// or its graph was already differentiated without <paramref name="retainGraph"/>; no gradient is then changed.</exception>
    public void Backward(bool retainGraph = false) => Engine.Backward(this, retainGraph);

    /// <summary>The value of a one-element tensor (<c>tensor.item()</c>).</summary>
    /// <exception cref="InvalidOperationException">The tensor has more or fewer than one element.</exception>
    public float Item() =>
        Numel == 1 ? Data[0] : throw new InvalidOperationException($"Item() needs a one-element tensor, but the shape is {Shapes.Format(_shape)}.");

    /// <summary>A leaf that shares this tensor's values but records nothing and requires no gradient (<c>detach()</c>).</summary>
    public Tensor Detach() => new(Data, _shape, null, null);

    /// <summary>
    /// Stops operations on this thread from recording gradients until the returned scope is disposed
    /// (<c>with torch.no_grad():</c>), for evaluation: <c>using (Tensor.NoGrad()) { ... }</c>. Scopes nest.
    /// </summary>
    public static IDisposable NoGrad() => GradMode.Disable();

    /// <summary>
    /// Registers <paramref name="hook"/> to run during every <see cref="Backward"/> right after
    /// <paramref name="parameter"/>'s gradient has been accumulated into <see cref="Parameter.Grad"/>
    /// (PyTorch's <c>Tensor.register_post_accumulate_grad_hook</c>). The backward pass visits the graph in reverse
    /// order, so the hooks of the last layers' parameters run first, while the earlier layers' gradients are still
    /// being computed: DistributedDataParallel starts its all-reduces from here. The hook runs once per tensor made
    /// from the parameter that the pass reaches (once, unless the parameter was used through two
    /// <see cref="FromParameter"/> tensors), on the thread that called <see cref="Backward"/>; an exception from it
    /// ends the backward pass. Hooks of one parameter run in the order they were registered.
    /// </summary>
    /// <param name="parameter">The parameter to watch.</param>
    /// <param name="hook">Called with the parameter, whose <see cref="Parameter.Grad"/> then holds the new sum.</param>
    /// <returns>A handle whose <see cref="IDisposable.Dispose"/> removes the hook (<c>handle.remove()</c>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameter"/> or <paramref name="hook"/> is null.</exception>
    /// <example><code>
    /// var order = new List&lt;string&gt;();
    /// using var h = Tensor.RegisterPostAccumulateGradHook(linear.Weight, p =&gt; order.Add("weight"));
    /// loss.Backward(); // order: ["weight"]
    /// </code></example>
    public static IDisposable RegisterPostAccumulateGradHook(Parameter parameter, Action<Parameter> hook)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(hook);
        return GradHooks.Register(parameter, hook);
    }

    /// <summary>Adds a gradient contribution; the array becomes the tensor's (it must not be handed on elsewhere).</summary>
    internal void AddGrad(float[] grad)
    {
        if (Pending is null) Pending = grad;
        else TensorPrimitives.Add(Pending, grad, Pending);
    }

    /// <summary>The pending gradient buffer for a kernel that writes (when it is new) or accumulates into it.</summary>
    internal float[] GradTarget(out bool accumulate)
    {
        accumulate = Pending is not null;
        return Pending ??= GC.AllocateUninitializedArray<float>(Numel);
    }

    /// <summary>Hands a leaf its summed gradient at the end of a backward pass, then runs its parameter's hooks.</summary>
    internal void DeliverGrad(float[] grad)
    {
        if (_parameter is { } p)
        {
            if (p.Grad is null && !p.HasSparseGrad) p.Grad = grad;
            else p.AccumulateGrad(grad);
            GradHooks.Run(p);
        }
        else if (_grad is null) _grad = grad;
        else TensorPrimitives.Add(_grad, grad, _grad);
    }

    /// <inheritdoc />
    public override string ToString()
    {
        const int shown = 6;
        var head = string.Join(", ", Data.Take(shown).Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
        return $"Tensor{Shapes.Format(_shape)}({head}{(Numel > shown ? ", ..." : "")}){(RequiresGrad ? " requires grad" : "")}";
    }
}
