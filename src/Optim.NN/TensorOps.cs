using Optim.NN.Ops;

namespace Optim.NN;

public sealed partial class Tensor
{
    /// <summary>
    /// Elementwise sum with broadcasting (PyTorch's rules, any ranks up to 4): the shapes are aligned on the right and
    /// each pair of extents must be equal or one of them 1, which is stretched (a missing dimension counts as 1): a row
    /// <c>[n]</c> over <c>[m, n]</c>, <c>[3, 1, 1]</c> over <c>[2, 3, 4, 5]</c>, <c>[2, 1, 4, 1]</c> with
    /// <c>[1, 3, 1, 5]</c> to <c>[2, 3, 4, 5]</c>, a scalar over anything. The gradient of a stretched operand is summed
    /// over the dimensions it was stretched along.
    /// </summary>
    /// <param name="left">The first operand.</param>
    /// <param name="right">The second operand.</param>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Tensor operator +(Tensor left, Tensor right) => Arithmetic.Binary(BinaryKind.Add, left, right);

    /// <summary>Elementwise difference with broadcasting (see <see cref="op_Addition(Tensor, Tensor)"/>).</summary>
    /// <param name="left">The first operand.</param>
    /// <param name="right">The second operand.</param>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Tensor operator -(Tensor left, Tensor right) => Arithmetic.Binary(BinaryKind.Subtract, left, right);

    /// <summary>Elementwise product with broadcasting (see <see cref="op_Addition(Tensor, Tensor)"/>); for the matrix product see <see cref="MatMul"/>.</summary>
    /// <param name="left">The first operand.</param>
    /// <param name="right">The second operand.</param>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Tensor operator *(Tensor left, Tensor right) => Arithmetic.Binary(BinaryKind.Multiply, left, right);

    /// <summary>Elementwise quotient with broadcasting (see <see cref="op_Addition(Tensor, Tensor)"/>).</summary>
    /// <param name="left">The dividend.</param>
    /// <param name="right">The divisor.</param>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Tensor operator /(Tensor left, Tensor right) => Arithmetic.Binary(BinaryKind.Divide, left, right);

    /// <summary>Adds a constant to every element.</summary>
    /// <param name="left">The tensor.</param>
    /// <param name="right">The constant.</param>
    public static Tensor operator +(Tensor left, float right) => left + Scalar(right);

    /// <summary>Adds a constant to every element.</summary>
    /// <param name="left">The constant.</param>
    /// <param name="right">The tensor.</param>
    public static Tensor operator +(float left, Tensor right) => Scalar(left) + right;

    /// <summary>Subtracts a constant from every element.</summary>
    /// <param name="left">The tensor.</param>
    /// <param name="right">The constant.</param>
    public static Tensor operator -(Tensor left, float right) => left - Scalar(right);

    /// <summary>Subtracts every element from a constant.</summary>
    /// <param name="left">The constant.</param>
    /// <param name="right">The tensor.</param>
    public static Tensor operator -(float left, Tensor right) => Scalar(left) - right;

    /// <summary>Multiplies every element by a constant.</summary>
    /// <param name="left">The tensor.</param>
    /// <param name="right">The constant.</param>
    public static Tensor operator *(Tensor left, float right) => left * Scalar(right);

    /// <summary>Multiplies every element by a constant.</summary>
    /// <param name="left">The constant.</param>
    /// <param name="right">The tensor.</param>
    public static Tensor operator *(float left, Tensor right) => Scalar(left) * right;

    /// <summary>Divides every element by a constant.</summary>
    /// <param name="left">The tensor.</param>
    /// <param name="right">The constant.</param>
    public static Tensor operator /(Tensor left, float right) => left / Scalar(right);

    /// <summary>Divides a constant by every element.</summary>
    /// <param name="left">The constant.</param>
    /// <param name="right">The tensor.</param>
    public static Tensor operator /(float left, Tensor right) => Scalar(left) / right;

    /// <summary>Negates every element.</summary>
    /// <param name="x">The tensor.</param>
    public static Tensor operator -(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Unary.Apply(UnaryKind.Negate, x);
    }

    /// <summary>
    /// Row <paramref name="index"/> along the first dimension (<c>x[i]</c>), of shape <c>Shape[1..]</c>: a row of a
    /// matrix, an image <c>[C, H, W]</c> of a batch <c>[N, C, H, W]</c>, or an element of a vector as a scalar. The
    /// result is a copy that records its gradient (writing it does not change this tensor).
    /// </summary>
    /// <param name="index">The row; negative counts from the end.</param>
    /// <exception cref="ArgumentException">The tensor is a scalar.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The row is out of range.</exception>
    [System.Runtime.CompilerServices.IndexerName("Rows")]   // "Item" is Item(), the value of a one-element tensor
    public Tensor this[int index] => Ops.Index.Rows(this, index < 0 && Rank > 0 ? index + _shape[0] : index, 1, squeeze: true, nameof(index));

    /// <summary>
    /// Rows along the first dimension (<c>x[a:b]</c>, here <c>x[a..b]</c>), as a copy that records its gradient.
    /// </summary>
    /// <param name="rows">The rows.</param>
    /// <exception cref="ArgumentException">The tensor is a scalar.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is out of bounds.</exception>
    [System.Runtime.CompilerServices.IndexerName("Rows")]
    public Tensor this[Range rows]
    {
        get
        {
            if (Rank == 0) throw new ArgumentException("A scalar cannot be indexed.", nameof(rows));
            int n = _shape[0];
            int start = rows.Start.IsFromEnd ? n - rows.Start.Value : rows.Start.Value;
            int end = rows.End.IsFromEnd ? n - rows.End.Value : rows.End.Value;
            // Python slices clamp to the extent
            start = Math.Clamp(start, 0, n);
            end = Math.Clamp(end, start, n);
            return Ops.Index.Rows(this, start, end - start, squeeze: false, nameof(rows));
        }
    }

    /// <summary>The matrix product <c>this[m, k] · other[k, n]</c> (<c>torch.matmul</c> of two matrices).</summary>
    /// <param name="other">The right operand.</param>
    /// <exception cref="ArgumentException">An operand is not 2-D, or the inner extents differ.</exception>
    public Tensor MatMul(Tensor other) => Ops.MatMul.Product(this, other);

    /// <summary>The transpose of a matrix, as a copy; a tensor of rank 0 or 1 is returned as it is (<c>t()</c>).</summary>
    /// <exception cref="InvalidOperationException">The tensor has rank 3 or 4 (as PyTorch's <c>t()</c>; see <see cref="Permute"/>).</exception>
    public Tensor T() => Ops.MatMul.Transpose(this);

    /// <summary>The sum of all elements, as a scalar.</summary>
    public Tensor Sum() => Reduction.All(this, mean: false);

    /// <summary>The sums along one dimension.</summary>
    /// <param name="dim">The dimension; negative counts from the end.</param>
    /// <param name="keepDim">Keep the summed dimension, with extent 1.</param>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public Tensor Sum(int dim, bool keepDim = false) => Reduction.Along(this, dim, keepDim, mean: false);

    /// <summary>The mean of all elements, as a scalar.</summary>
    public Tensor Mean() => Reduction.All(this, mean: true);

    /// <summary>The means along one dimension.</summary>
    /// <param name="dim">The dimension; negative counts from the end.</param>
    /// <param name="keepDim">Keep the reduced dimension, with extent 1.</param>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public Tensor Mean(int dim, bool keepDim = false) => Reduction.Along(this, dim, keepDim, mean: true);

    /// <summary><c>eˣ</c>, elementwise.</summary>
    public Tensor Exp() => Unary.Apply(UnaryKind.Exp, this);

    /// <summary>The natural logarithm, elementwise.</summary>
    public Tensor Log() => Unary.Apply(UnaryKind.Log, this);

    /// <summary><c>max(x, 0)</c>, elementwise; the gradient is 0 where the output is 0.</summary>
    public Tensor Relu() => Unary.Apply(UnaryKind.Relu, this);

    /// <summary>The hyperbolic tangent, elementwise.</summary>
    public Tensor Tanh() => Unary.Apply(UnaryKind.Tanh, this);

    /// <summary>The logistic function <c>1 / (1 + e⁻ˣ)</c>, elementwise.</summary>
    public Tensor Sigmoid() => Unary.Apply(UnaryKind.Sigmoid, this);

    /// <summary><c>xᵖ</c>, elementwise (<c>x ** p</c>); <c>Pow(2)</c> is computed as <c>x·x</c>.</summary>
    /// <param name="exponent">The exponent.</param>
    public Tensor Pow(float exponent) => Unary.Pow(this, exponent);

    /// <summary>
    /// <c>x − log Σ exp(x)</c> along the last dimension, computed stably (<c>log_softmax</c>), for any rank from 1 to 4.
    /// </summary>
    /// <param name="dim">The dimension: the last one (-1, or the rank minus 1).</param>
    /// <exception cref="ArgumentException">The tensor is a scalar, or <paramref name="dim"/> is not the last dimension.</exception>
    public Tensor LogSoftmax(int dim = -1) => Softmax.LogSoftmax(this, dim);
}
