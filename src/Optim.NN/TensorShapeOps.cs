using Optim.NN.Ops;

namespace Optim.NN;

public sealed partial class Tensor
{
    /// <summary>
    /// The same values under another shape (<c>reshape</c>), with at most one extent given as <c>-1</c> and inferred
    /// from the element count. Every tensor here is contiguous, so the result always shares this tensor's buffer, as
    /// PyTorch's <c>reshape</c> does for a contiguous tensor: writing one's <see cref="Data"/> changes the other's.
    /// It records its gradient (the output's, reshaped).
    /// </summary>
    /// <param name="shape">The new extents, at most four; their product must be <see cref="Numel"/>. None: a scalar.</param>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape holds another number of elements, has two <c>-1</c>s or an extent
    /// below <c>-1</c>, has rank above 4, or infers a <c>-1</c> from zero elements (PyTorch's errors).</exception>
    /// <example><code>var images = Tensor.Zeros(8, 784).Reshape(-1, 1, 28, 28);   // [8, 1, 28, 28]</code></example>
    public Tensor Reshape(params int[] shape) => ShapeOps.Reshape(this, shape, nameof(shape));

    /// <summary>
    /// A view of the same values under another shape (<c>view</c>): here exactly <see cref="Reshape"/>, since every
    /// tensor is contiguous (PyTorch's <c>view</c> fails only for non-contiguous tensors, which this library has not).
    /// The result shares this tensor's buffer and records its gradient.
    /// </summary>
    /// <param name="shape">The new extents, at most four, one of them <c>-1</c> at most.</param>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">As <see cref="Reshape"/>.</exception>
    public Tensor View(params int[] shape) => ShapeOps.Reshape(this, shape, nameof(shape));

    /// <summary>
    /// The dimensions from <paramref name="startDim"/> to <paramref name="endDim"/> (both included) merged into one
    /// (<c>torch.flatten</c>); a scalar becomes <c>[1]</c>. The result shares this tensor's buffer and records its gradient.
    /// </summary>
    /// <param name="startDim">The first dimension merged; negative counts from the end.</param>
    /// <param name="endDim">The last dimension merged; negative counts from the end.</param>
    /// <exception cref="ArgumentException">A dimension is out of range, or <paramref name="startDim"/> comes after <paramref name="endDim"/>.</exception>
    /// <example><code>Tensor.Zeros(8, 3, 4, 4).Flatten(1)   // [8, 48]</code></example>
    public Tensor Flatten(int startDim = 0, int endDim = -1) => ShapeOps.Flatten(this, startDim, endDim);

    /// <summary>
    /// The dimensions reordered (<c>permute</c>): dimension <c>i</c> of the result is dimension <c>dims[i]</c> of this
    /// tensor. The result is a contiguous copy that records its gradient.
    /// </summary>
    /// <param name="dims">A permutation of <c>0 … Rank − 1</c>; negative entries count from the end.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dims"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="dims"/> has another length than <see cref="Rank"/>, an entry out of range, or a repeated dimension.</exception>
    /// <example><code>Tensor.Zeros(2, 28, 28, 3).Permute(0, 3, 1, 2)   // NHWC to NCHW: [2, 3, 28, 28]</code></example>
    public Tensor Permute(params int[] dims) => ShapeOps.Permute(this, dims);

    /// <summary>
    /// Drops dimension <paramref name="dim"/> if its extent is 1, and otherwise returns the same shape, as PyTorch's
    /// <c>squeeze(dim)</c>. The result shares this tensor's buffer and records its gradient.
    /// </summary>
    /// <param name="dim">The dimension; negative counts from the end.</param>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public Tensor Squeeze(int dim) => ShapeOps.Squeeze(this, dim);

    /// <summary>Drops every dimension of extent 1 (<c>squeeze()</c>), sharing this tensor's buffer.</summary>
    public Tensor Squeeze() => ShapeOps.Squeeze(this);

    /// <summary>
    /// Inserts a dimension of extent 1 at <paramref name="dim"/> (<c>unsqueeze</c>), sharing this tensor's buffer.
    /// </summary>
    /// <param name="dim">Where the new dimension goes, in <c>[-Rank - 1, Rank]</c>; negative counts from the end.</param>
    /// <exception cref="ArgumentException">The dimension is out of range, or the tensor already has rank 4.</exception>
    public Tensor Unsqueeze(int dim) => ShapeOps.Unsqueeze(this, dim);

    /// <summary>
    /// The index of the largest element along <paramref name="dim"/> (<c>argmax</c>), the first one among equal
    /// maxima, a NaN counting as the largest. Indices are float32 whole numbers, since every tensor here is float32
    /// (exact below 2²⁴); the result records no gradient.
    /// </summary>
    /// <param name="dim">The dimension; negative counts from the end.</param>
    /// <param name="keepDim">Keep the reduced dimension, with extent 1.</param>
    /// <exception cref="ArgumentException">The dimension is out of range (a scalar has none), or its extent is 0.</exception>
    /// <example>
    /// The accuracy of logits <c>[batch, classes]</c> against class indices <c>[batch]</c>:
    /// <code>float accuracy = logits.ArgMax(1).Eq(labels).Mean().Item();</code>
    /// </example>
    public Tensor ArgMax(int dim, bool keepDim = false)
    {
        var (_, indices, shape, _, _, _) = MaxOps.Along(this, dim, keepDim, nameof(dim));
        return Result(indices, shape, null);
    }

    /// <summary>
    /// The index of the largest element of the flattened tensor (<c>argmax()</c>), as a float32 scalar; the first
    /// among equal maxima, a NaN counting as the largest.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor has no elements.</exception>
    public Tensor ArgMax() => MaxOps.ArgMax(this);

    /// <summary>
    /// The largest element, as a scalar (<c>max()</c>); NaN if any element is NaN. As in PyTorch 1.13, its gradient
    /// is shared evenly by all the elements equal to the maximum (two tied maxima get half each).
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor has no elements.</exception>
    public Tensor Max() => MaxOps.Max(this);

    /// <summary>
    /// The maxima along <paramref name="dim"/> and their indices (<c>torch.max(x, dim)</c>): the first index among
    /// equal maxima, a NaN counting as the largest. <c>Values</c> records its gradient, which goes to the chosen
    /// index of each slice; <c>Indices</c> are float32 whole numbers and record none.
    /// </summary>
    /// <param name="dim">The dimension; negative counts from the end.</param>
    /// <param name="keepDim">Keep the reduced dimension, with extent 1, in both results.</param>
    /// <exception cref="ArgumentException">The dimension is out of range (a scalar has none), or its extent is 0.</exception>
    /// <example><code>var (values, indices) = x.Max(1);</code></example>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => MaxOps.MaxAlong(this, dim, keepDim);

    /// <summary>
    /// Elementwise equality with broadcasting (PyTorch's <c>==</c>, <c>torch.eq</c>): 1 where the elements are equal,
    /// 0 elsewhere (NaN equals nothing). PyTorch returns a bool tensor; this one is float32, like every tensor here,
    /// so that <see cref="Mean()"/> of it is the fraction equal. It records no gradient. C#'s <c>==</c> is not
    /// overloaded: on a class it means reference equality, which collections and null checks rely on.
    /// </summary>
    /// <param name="other">The tensor to compare with; the shapes broadcast as for <see cref="op_Addition(Tensor, Tensor)"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    /// <example><code>float accuracy = logits.ArgMax(1).Eq(labels).Mean().Item();</code></example>
    public Tensor Eq(Tensor other) => Arithmetic.Equal(this, other);

    /// <summary>Elementwise equality with a constant (<c>x == c</c>): 1 where equal, 0 elsewhere, as float32, recording no gradient.</summary>
    /// <param name="other">The constant.</param>
    public Tensor Eq(float other) => Arithmetic.Equal(this, Scalar(other));
}
