using System.Numerics.Tensors;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>Elementwise <c>+ − × ÷</c> of two tensors, with broadcasting, and their gradients; and <c>==</c> (<see cref="Equal"/>), which has none.</summary>
internal static class Arithmetic
{
    public static Tensor Binary(BinaryKind kind, Tensor a, Tensor b)
    {
        // named as the operators' operands
        ArgumentNullException.ThrowIfNull(a, "left");
        ArgumentNullException.ThrowIfNull(b, "right");
        var bc = Broadcast.Of(a, b, "right");
        var y = GC.AllocateUninitializedArray<float>(bc.Numel);
        bc.Apply(kind, bc.A(a), bc.B(b), y);
        return Tensor.Result(y, bc.Shape, Tensor.Records(a, b) ? new BinaryNode(kind, a, b, bc, y) : null);
    }

    /// <summary><c>a == b</c> elementwise with broadcasting: 1 where equal, 0 elsewhere (NaN equals nothing); it records no gradient.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast.</exception>
    public static Tensor Equal(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(b, "other");
        var bc = Broadcast.Of(a, b, "other");
        var y = GC.AllocateUninitializedArray<float>(bc.Numel);
        bc.Apply(BinaryKind.Equal, bc.A(a), bc.B(b), y);
        return Tensor.Result(y, bc.Shape, null);
    }

    private sealed class BinaryNode(BinaryKind kind, Tensor left, Tensor right, Broadcast bc, float[] y) : Node(left, right)
    {
        public override void Backward(float[] grad)
        {
            Tensor a = A, b = B;
            bool da = a.RequiresGrad, db = b.RequiresGrad;
            var g = bc.Full(grad);
            switch (kind)
            {
                case BinaryKind.Add:
                case BinaryKind.Subtract:
                    if (db && !bc.BFull)
                        // a stretched b sums the gradient into a buffer of its own size: no copy of the whole gradient
                        bc.ReduceInto(b, grad, bc.BStrides, full: false, negate: kind == BinaryKind.Subtract);
                    else if (db)
                    {
                        var gb = new float[grad.Length];
                        if (kind == BinaryKind.Add) grad.AsSpan().CopyTo(gb);
                        else TensorPrimitives.Negate(grad, gb);
                        b.AddGrad(gb);
                    }
                    if (da) bc.ReduceInto(a, grad, bc.AStrides, bc.AFull);
                    break;
                case BinaryKind.Multiply:
                    if (da)
                    {
                        var ga = new float[grad.Length];
                        bc.Apply(BinaryKind.Multiply, g, bc.B(b), ga);
                        bc.ReduceInto(a, ga, bc.AStrides, bc.AFull);
                    }
                    if (db)
                    {
                        var gb = new float[grad.Length];
                        bc.Apply(BinaryKind.Multiply, g, bc.A(a), gb);
                        bc.ReduceInto(b, gb, bc.BStrides, bc.BFull);
                    }
                    break;
                default:
                    // the gradient is g/b for a, and −g·a/b² = −(g/b)·y for b
                    var gOverB = new float[grad.Length];
                    bc.Apply(BinaryKind.Divide, g, bc.B(b), gOverB);
                    if (db)
                    {
                        var gb = new float[grad.Length];
                        TensorPrimitives.Multiply(gOverB, y, gb);
                        TensorPrimitives.Negate(gb, gb);
                        bc.ReduceInto(b, gb, bc.BStrides, bc.BFull);
                    }
                    if (da) bc.ReduceInto(a, gOverB, bc.AStrides, bc.AFull);
                    break;
            }
        }
    }
}
