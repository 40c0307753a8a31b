using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>The elementwise functions of one tensor.</summary>
internal enum UnaryKind { Negate, Exp, Log, Relu, Tanh, Sigmoid }

/// <summary>Elementwise functions and their gradients, each in PyTorch's formula.</summary>
internal static class Unary
{
    public static Tensor Apply(UnaryKind kind, Tensor x)
    {
        var y = GC.AllocateUninitializedArray<float>(x.Numel);
        switch (kind)
        {
            case UnaryKind.Negate: TensorPrimitives.Negate(x.Data, y); break;
            case UnaryKind.Exp: TensorPrimitives.Exp(x.Data, y); break;
            case UnaryKind.Log: TensorPrimitives.Log(x.Data, y); break;
            case UnaryKind.Relu: Relu(x.Data, y); break;
            case UnaryKind.Tanh: TensorPrimitives.Tanh(x.Data, y); break;
            default: TensorPrimitives.Sigmoid(x.Data, y); break;
        }
        return Tensor.Result(y, x.ShapeArray, Tensor.Records(x) ? new UnaryNode(kind, x, y) : null);
    }

    /// <summary><c>x^exponent</c>; squares are computed as <c>x·x</c>, as PyTorch does.</summary>
    public static Tensor Pow(Tensor x, float exponent)
    {
        var y = GC.AllocateUninitializedArray<float>(x.Numel);
        if (exponent == 2f) TensorPrimitives.Multiply(x.Data, x.Data, y);
        else if (exponent == 1f) x.Data.AsSpan().CopyTo(y);
        else TensorPrimitives.Pow(x.Data, exponent, y);
        return Tensor.Result(y, x.ShapeArray, Tensor.Records(x) ? new PowNode(x, exponent) : null);
    }

    /// <summary><c>max(x, 0)</c>, keeping NaN.</summary>
    private static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var v = Vector256.Create(x.Slice(i, Vector256<float>.Count));
            // v > 0 keeps v; a NaN compares false on both tests and is kept as v too
            Vector256.ConditionalSelect(Vector256.LessThanOrEqual(v, Vector256<float>.Zero), Vector256<float>.Zero, v)
                .CopyTo(y.Slice(i, Vector256<float>.Count));
        }
        for (; i < x.Length; i++) y[i] = x[i] <= 0f ? 0f : x[i];
    }

    private sealed class UnaryNode(UnaryKind kind, Tensor input, float[] y) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var x = A.Data;
            var gx = grad;   // the output's gradient is ours: compute in place
            switch (kind)
            {
                case UnaryKind.Negate: TensorPrimitives.Negate(grad, gx); break;
                case UnaryKind.Exp: TensorPrimitives.Multiply(grad, y, gx); break;
                case UnaryKind.Log: TensorPrimitives.Divide(grad, x, gx); break;
                case UnaryKind.Relu:
                    // PyTorch's threshold_backward: the gradient passes where the output is positive
                    for (int i = 0; i < gx.Length; i++) if (!(y[i] > 0f)) gx[i] = 0f;
                    break;
                case UnaryKind.Tanh:
                    // grad·(1 − y²)
                    for (int i = 0; i < gx.Length; i++) gx[i] = grad[i] * (1f - y[i] * y[i]);
                    break;
                default:
                    // grad·(1 − y)·y
                    for (int i = 0; i < gx.Length; i++) gx[i] = grad[i] * (1f - y[i]) * y[i];
                    break;
            }
            A.AddGrad(gx);
        }
    }

    private sealed class PowNode(Tensor input, float exponent) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var x = A.Data;
            if (exponent == 0f) Array.Clear(grad);
            else if (exponent == 2f)
                for (int i = 0; i < grad.Length; i++) grad[i] = grad[i] * (2f * x[i]);
            else if (exponent != 1f)
                // PyTorch's pow_backward: grad · exponent · x^(exponent − 1)
                for (int i = 0; i < grad.Length; i++) grad[i] = grad[i] * (exponent * MathF.Pow(x[i], exponent - 1f));
            A.AddGrad(grad);
        }
    }
}
