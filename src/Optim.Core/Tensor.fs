namespace Optim

open System

/// <summary>A dense float32 buffer with a shape, in row-major order: one parameter, gradient or state buffer.</summary>
/// <remarks>
/// The core never writes into a tensor it was given, except through the documented in-place functions
/// (<c>Fused.*InPlace</c>, <c>Optimizer.StepInPlace</c>), which write into buffers the caller owns.
/// From C# this type is <c>Optim.CoreTensor</c> (and this module <c>Optim.TensorModule</c>), so that it does not clash
/// with Optim.NN's <c>Tensor</c>.
/// </remarks>
[<CompiledName("CoreTensor")>]
type Tensor =
    { /// <summary>The extent of each dimension; the product equals <c>Data.Length</c>.</summary>
      Shape: int[]
      /// <summary>The elements, row-major.</summary>
      Data: float32[] }

/// <summary>Functions to build and inspect <see cref="T:Optim.CoreTensor"/> values.</summary>
[<RequireQualifiedAccess>]
module Tensor =

    /// <summary>The number of elements a shape holds.</summary>
    /// <param name="shape">Dimension extents, each zero or more.</param>
    /// <returns>The product of the extents (1 for a scalar shape <c>[||]</c>).</returns>
    /// <exception cref="T:System.ArgumentException">An extent is negative.</exception>
    let numel (shape: int[]) =
        if isNull shape then nullArg (nameof shape)
        let mutable n = 1
        for d in shape do
            if d < 0 then invalidArg (nameof shape) $"Every extent must be zero or more, but the shape is %A{shape}."
            n <- n * d
        n

    /// <summary>Wraps a buffer with a shape, checking that they agree. The buffer is not copied.</summary>
    /// <param name="shape">Dimension extents.</param>
    /// <param name="data">The elements, row-major.</param>
    /// <exception cref="T:System.ArgumentException">The shape's element count is not <c>data.Length</c>.</exception>
    /// <example><c>Tensor.create [| 2; 2 |] [| 1.0f; 2.0f; 3.0f; 4.0f |]</c></example>
    let create (shape: int[]) (data: float32[]) =
        if isNull data then nullArg (nameof data)
        let n = numel shape
        if n <> data.Length then
            invalidArg (nameof data) $"The shape %A{shape} holds {n} elements, but data has {data.Length}."
        { Shape = Array.copy shape; Data = data }

    /// <summary>A one-dimensional tensor over a buffer (not copied).</summary>
    /// <param name="data">The elements.</param>
    let ofArray (data: float32[]) =
        if isNull data then nullArg (nameof data)
        { Shape = [| data.Length |]; Data = data }

    /// <summary>A tensor of zeros.</summary>
    /// <param name="shape">Dimension extents.</param>
    let zeros (shape: int[]) = { Shape = Array.copy shape; Data = Array.zeroCreate (numel shape) }

    /// <summary>A deep copy: new shape and data arrays.</summary>
    /// <param name="t">The tensor to copy.</param>
    let copy (t: Tensor) = { Shape = Array.copy t.Shape; Data = Array.copy t.Data }

    /// <summary>The number of elements.</summary>
    /// <param name="t">The tensor.</param>
    let length (t: Tensor) = t.Data.Length

    /// <summary>A tensor with the same shape and new data.</summary>
    /// <param name="t">The tensor whose shape is kept.</param>
    /// <param name="data">The new elements; must have the same length.</param>
    /// <exception cref="T:System.ArgumentException">The lengths differ.</exception>
    let withData (t: Tensor) (data: float32[]) =
        if isNull data then nullArg (nameof data)
        if data.Length <> t.Data.Length then
            invalidArg (nameof data) $"Expected {t.Data.Length} elements for shape %A{t.Shape}, got {data.Length}."
        { Shape = t.Shape; Data = data }

    /// <summary>Formats a shape as PyTorch prints it, e.g. <c>[2, 3]</c>.</summary>
    /// <param name="shape">Dimension extents.</param>
    let formatShape (shape: int[]) = "[" + String.Join(", ", shape) + "]"
