using System.Numerics.Tensors;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>Elementwise <c>+ − × ÷</c> of two tensors, with broadcasting, and their gradients.</summary>
internal static class Arithmetic
{
    public static Tensor Binary(BinaryKind kind, Tensor a, Tensor b)
    {
        // named as the operators' operands
        ArgumentNullException.ThrowIfNull(a, "left");
        ArgumentNullException.ThrowIfNull(b, "right");
        var bc = Broadcast.Of(a, b, "right");
        var y = GC.AllocateUninitializedArray<float>(bc.Numel);
        Broadcast.Apply(kind, bc.A(a), bc.B(b), y, bc.Rows, bc.Cols);
        return Tensor.Result(y, bc.Shape, Tensor.Records(a, b) ? new BinaryNode(kind, a, b, bc, y) : null);
    }

    private sealed class BinaryNode(BinaryKind kind, Tensor left, Tensor right, Broadcast bc, float[] y) : Node(left, right)
    {
        public override void Backward(float[] grad)
        {
            Tensor a = A, b = B;
            bool da = a.RequiresGrad, db = b.RequiresGrad;
            int rows = bc.Rows, cols = bc.Cols;
            var g = Operand.Full(grad, cols);
            switch (kind)
            {
                case BinaryKind.Add:
                case BinaryKind.Subtract:
                    if (db)
                    {
                        var gb = new float[grad.Length];
                        if (kind == BinaryKind.Add) grad.AsSpan().CopyTo(gb);
                        else TensorPrimitives.Negate(grad, gb);
                        bc.ReduceInto(b, gb, bc.BRowStride, bc.BColStride);
                    }
                    if (da) bc.ReduceInto(a, grad, bc.ARowStride, bc.AColStride);
                    break;
                case BinaryKind.Multiply:
                    if (da)
                    {
                        var ga = new float[grad.Length];
                        Broadcast.Apply(BinaryKind.Multiply, g, bc.B(b), ga, rows, cols);
                        bc.ReduceInto(a, ga, bc.ARowStride, bc.AColStride);
                    }
                    if (db)
                    {
                        var gb = new float[grad.Length];
                        Broadcast.Apply(BinaryKind.Multiply, g, bc.A(a), gb, rows, cols);
                        bc.ReduceInto(b, gb, bc.BRowStride, bc.BColStride);
                    }
                    break;
                default:
                    // the gradient is g/b for a, and −g·a/b² = −(g/b)·y for b
                    var gOverB = new float[grad.Length];
                    Broadcast.Apply(BinaryKind.Divide, g, bc.B(b), gOverB, rows, cols);
                    if (db)
                    {
                        var gb = new float[grad.Length];
                        TensorPrimitives.Multiply(gOverB, y, gb);
                        TensorPrimitives.Negate(gb, gb);
                        bc.ReduceInto(b, gb, bc.BRowStride, bc.BColStride);
                    }
                    if (da) bc.ReduceInto(a, gOverB, bc.ARowStride, bc.AColStride);
                    break;
            }
        }
    }
}
