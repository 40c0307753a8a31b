namespace Optim

open System

/// <summary>
/// A sparse gradient: whole rows (slices along the parameter's first dimension) given by their indices and
/// values, as PyTorch's sparse COO gradients of <c>nn.Embedding(sparse=True)</c>. A row may appear more than
/// once; its values are then summed.
/// </summary>
type SparseGradient =
    { /// <summary>The row indices, each in <c>[0, shape[0])</c>, in any order, repeats allowed.</summary>
      Rows: int[]
      /// <summary>The rows' values, row-major: <c>Rows.Length × rowWidth</c> elements.</summary>
      Values: float32[] }

/// <summary>Functions over <see cref="T:Optim.SparseGradient"/>.</summary>
[<RequireQualifiedAccess>]
module SparseGradient =

    /// <summary>The number of elements of one row of a parameter: <c>numel / shape[0]</c> (1 for a vector).</summary>
    /// <param name="shape">The parameter's shape, of rank 1 or more.</param>
    /// <exception cref="T:System.ArgumentException">The shape has rank 0.</exception>
    let rowWidth (shape: int[]) =
        if isNull shape then nullArg (nameof shape)
        if shape.Length = 0 then invalidArg (nameof shape) "A sparse gradient needs a parameter of rank 1 or more (its rows are along the first dimension)."
        if shape.[0] = 0 then 0 else Tensor.numel shape / shape.[0]

    /// <summary>Checks that a sparse gradient fits a parameter of this shape.</summary>
    /// <param name="shape">The parameter's shape.</param>
    /// <param name="g">The sparse gradient.</param>
    /// <exception cref="T:System.ArgumentException">A row is out of range, or the values do not hold one row per index.</exception>
    let validate (shape: int[]) (g: SparseGradient) =
        if isNull (box g) || isNull g.Rows || isNull g.Values then nullArg (nameof g)
        let width = rowWidth shape
        if g.Values.Length <> g.Rows.Length * width then
            invalidArg (nameof g) $"A sparse gradient of {g.Rows.Length} rows of a parameter of shape {Tensor.formatShape shape} needs {g.Rows.Length * width} values, but has {g.Values.Length}."
        for r in g.Rows do
            if r < 0 || r >= shape.[0] then
                invalidArg (nameof g) $"Row {r} is out of range for a parameter of shape {Tensor.formatShape shape}."

    /// <summary>
    /// The same gradient with each row once, in increasing order, the values of repeated rows summed (in the
    /// order they appear), as PyTorch's <c>coalesce()</c>.
    /// </summary>
    /// <param name="width">The row width (<see cref="M:Optim.SparseGradientModule.rowWidth(System.Int32[])"/>).</param>
    /// <param name="g">The sparse gradient.</param>
    let coalesce (width: int) (g: SparseGradient) : SparseGradient =
        let order = Array.init g.Rows.Length id |> Array.sortWith (fun a b -> compare (g.Rows.[a], a) (g.Rows.[b], b))
        let rows = ResizeArray<int>()
        let values = ResizeArray<float32>()
        for k in order do
            let r = g.Rows.[k]
            if rows.Count > 0 && rows.[rows.Count - 1] = r then
                let at = (rows.Count - 1) * width
                for j in 0 .. width - 1 do values.[at + j] <- values.[at + j] + g.Values.[k * width + j]
            else
                rows.Add r
                for j in 0 .. width - 1 do values.Add g.Values.[k * width + j]
        { Rows = rows.ToArray(); Values = values.ToArray() }

    /// <summary>Whether the rows are strictly increasing: each row once, in order, as <c>coalesce</c> returns them.</summary>
    /// <param name="rows">The row indices.</param>
    let isCoalesced (rows: ReadOnlySpan<int>) =
        let mutable ok = true
        let mutable i = 1
        while ok && i < rows.Length do
            ok <- rows.[i - 1] < rows.[i]
            i <- i + 1
        ok

    /// <summary>The dense gradient of a parameter of this shape: zeros, plus every row (repeats summed).</summary>
    /// <param name="shape">The parameter's shape.</param>
    /// <param name="g">The sparse gradient.</param>
    /// <exception cref="T:System.ArgumentException">The gradient does not fit the shape.</exception>
    let toDense (shape: int[]) (g: SparseGradient) : float32[] =
        validate shape g
        let width = rowWidth shape
        let dense = Array.zeroCreate (Tensor.numel shape)
        g.Rows |> Array.iteri (fun k r -> for j in 0 .. width - 1 do dense.[r * width + j] <- dense.[r * width + j] + g.Values.[k * width + j])
        dense
