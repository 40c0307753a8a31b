namespace Optim

/// <summary>How the shape of a state buffer follows the shape of its parameter.</summary>
[<RequireQualifiedAccess>]
type BufferLayout =
    /// <summary>One value per element, in the parameter's shape (<c>"exp_avg"</c>, <c>"momentum_buffer"</c>, …).</summary>
    | Elementwise
    /// <summary>
    /// One value per parameter: PyTorch's 0-dimensional state tensors (ASGD's <c>"eta"</c> and <c>"mu"</c>,
    /// NAdam's <c>"mu_product"</c>).
    /// </summary>
    | Scalar
    /// <summary>
    /// The parameter's shape with dimension <c>dim</c>, counted from the end (-1 is the last), reduced to 1: a
    /// factored second moment (Adafactor's <c>"row_var"</c> is <c>Reduced -1</c>, <c>"col_var"</c> is
    /// <c>Reduced -2</c>). Only parameters of two or more dimensions have such a buffer.
    /// </summary>
    | Reduced of dim: int

/// <summary>Functions over <see cref="T:Optim.BufferLayout"/>.</summary>
[<RequireQualifiedAccess>]
module BufferLayout =

    /// <summary>The shape a buffer of this layout has for a parameter of the given shape.</summary>
    /// <param name="layout">The buffer's layout.</param>
    /// <param name="paramShape">The parameter's shape.</param>
    /// <returns>The buffer's shape (<c>[||]</c> for a scalar), or <c>ValueNone</c> when a parameter of that shape has no
    /// such buffer (a <c>Reduced</c> layout on a parameter of fewer than two dimensions, or of fewer than <c>-dim</c>).</returns>
    /// <example><c>BufferLayout.shapeOf (BufferLayout.Reduced -2) [| 2; 3; 4 |]</c> is <c>ValueSome [| 2; 1; 4 |]</c>.</example>
    let shapeOf (layout: BufferLayout) (paramShape: int[]) : int[] voption =
        match layout with
        | BufferLayout.Elementwise -> ValueSome(Array.copy paramShape)
        | BufferLayout.Scalar -> ValueSome [||]
        | BufferLayout.Reduced dim ->
            let k = paramShape.Length + dim
            if paramShape.Length < 2 || dim >= 0 || k < 0 then ValueNone
            else ValueSome(Array.init paramShape.Length (fun j -> if j = k then 1 else paramShape.[j]))

/// <summary>
/// What an optimizer keeps between steps, laid out as PyTorch's <c>optimizer.state</c>: for parameter
/// <c>i</c>, <c>Steps.[i]</c> is the number of updates it has received (PyTorch's <c>state[p]["step"]</c>)
/// and <c>Buffers.[name].[i]</c> is its buffer called <c>name</c> (<c>"exp_avg"</c>, <c>"momentum_buffer"</c>, …).
/// </summary>
/// <remarks>
/// <para>A buffer entry is <c>null</c> until the parameter's first update creates it, as PyTorch creates
/// state lazily: a parameter that never had a gradient has no state.</para>
/// <para>Every block of a chain shares this one table and owns the buffer names it declares, so a chain's state,
/// its fused kernel's state and the facade's <c>StateDict</c> are the same thing. Hyperparameters are not
/// part of the state: a transformation rebuilt with a new learning rate, momentum or betas continues from
/// the old state.</para>
/// <para>The pure API never mutates a state; the in-place API writes into the state it is given.</para>
/// </remarks>
type State =
    { /// <summary>Per parameter: how many updates it has received.</summary>
      Steps: int64[]
      /// <summary>Per buffer name: one array per parameter, <c>null</c> where not yet created.</summary>
      Buffers: Map<string, float32[][]>
      /// <summary>
      /// The layouts of the buffers whose shape is not their parameter's (<see cref="T:Optim.BufferLayout"/>); a
      /// declared buffer not named here is <c>BufferLayout.Elementwise</c>.
      /// </summary>
      Layouts: Map<string, BufferLayout>
      /// <summary>
      /// Values that belong to the whole optimizer rather than to one parameter, by name: a combinator's counters
      /// (<c>"multi_steps.mini_step"</c>, <c>"apply_if_finite.notfinite_count"</c>, …), each a one-element array (written
      /// in place by an in-place step, like the buffers; read them with <c>State.globalValue</c>). Each owner declares its names.
      /// </summary>
      Globals: Map<string, float[]>
      /// <summary>
      /// Per parameter, its shape as the <c>Init</c> that made this state saw it (null where unknown: a state built by
      /// <c>State.empty</c> alone). An in-place step is given flat buffers; it reads the shapes here, so that a block whose
      /// rule depends on the shape (Muon's orthogonalisation of a matrix, a partition by shape) sees the parameter as
      /// the pure step does. Not part of a checkpoint, which records the shapes itself.
      /// </summary>
      Shapes: int[][] }

/// <summary>Functions over <see cref="T:Optim.State"/>.</summary>
[<RequireQualifiedAccess>]
module State =

    /// <summary>The state of <paramref name="count"/> parameters that have taken no step and declare no buffers.</summary>
    /// <param name="count">The number of parameters.</param>
    let empty (count: int) : State =
        if count < 0 then invalidArg (nameof count) $"The parameter count must be zero or more, but was {count}."
        { Steps = Array.zeroCreate count; Buffers = Map.empty; Layouts = Map.empty; Globals = Map.empty; Shapes = Array.zeroCreate count }

    /// <summary>The state with the shapes of these parameters recorded (see <c>Shapes</c>); its tables are shared.</summary>
    /// <param name="parameters">The parameters the state is for, in order.</param>
    /// <param name="state">The state.</param>
    /// <exception cref="T:System.ArgumentException">The state covers another number of parameters.</exception>
    let internal withShapes (parameters: Tensor[]) (state: State) : State =
        if parameters.Length <> state.Steps.Length then
            invalidArg (nameof parameters) $"The state covers {state.Steps.Length} parameters, but {parameters.Length} were given."
        { state with Shapes = parameters |> Array.map (fun p -> Array.copy p.Shape) }

    /// <summary>
    /// Parameter <paramref name="index"/>'s buffer as a tensor of the shape the state recorded for it (see <c>Shapes</c>),
    /// or as a vector where none was recorded or it does not fit the buffer. The buffer is not copied.
    /// </summary>
    /// <param name="state">The state.</param>
    /// <param name="index">The parameter's index.</param>
    /// <param name="data">Its buffer.</param>
    let internal tensorOf (state: State) (index: int) (data: float32[]) : Tensor =
        let shape = if isNull state.Shapes || index >= state.Shapes.Length then null else state.Shapes.[index]
        if isNull shape || Tensor.numel shape <> data.Length then Tensor.ofArray data else { Shape = shape; Data = data }

    /// <summary>The number of parameters the state covers.</summary>
    /// <param name="state">The state.</param>
    let count (state: State) = state.Steps.Length

    /// <summary>Declares a buffer slot (all entries not yet created). Used by blocks' <c>Init</c>.</summary>
    /// <param name="name">The buffer's name, PyTorch's key.</param>
    /// <param name="state">The state to extend.</param>
    /// <exception cref="T:System.ArgumentException">A buffer of that name is already declared.</exception>
    let declare (name: string) (state: State) : State =
        if state.Buffers.ContainsKey name then
            invalidArg (nameof name) $"Two blocks declare the state buffer '{name}'; a chain's blocks must own distinct names."
        { state with Buffers = state.Buffers.Add(name, Array.zeroCreate state.Steps.Length) }

    /// <summary>Declares a buffer slot whose shape follows its parameter's as <paramref name="layout"/> says. Used by blocks' <c>Init</c>.</summary>
    /// <param name="layout">How the buffer's shape follows its parameter's.</param>
    /// <param name="name">The buffer's name, PyTorch's key.</param>
    /// <param name="state">The state to extend.</param>
    /// <exception cref="T:System.ArgumentException">A buffer of that name is already declared.</exception>
    let declareWith (layout: BufferLayout) (name: string) (state: State) : State =
        let s = declare name state
        if layout = BufferLayout.Elementwise then s else { s with Layouts = s.Layouts.Add(name, layout) }

    /// <summary>
    /// Declares a buffer slot that holds one value per parameter (a 1-element array), as PyTorch keeps some
    /// per-parameter scalars as 0-dimensional tensors: <c>declareWith BufferLayout.Scalar</c>.
    /// </summary>
    /// <param name="name">The buffer's name, PyTorch's key.</param>
    /// <param name="state">The state to extend.</param>
    /// <exception cref="T:System.ArgumentException">A buffer of that name is already declared.</exception>
    let declareScalar (name: string) (state: State) : State = declareWith BufferLayout.Scalar name state

    /// <summary>The layout of a buffer: how its shape follows its parameter's.</summary>
    /// <param name="name">The buffer's name.</param>
    /// <param name="state">The state.</param>
    /// <returns>The declared layout; <c>BufferLayout.Elementwise</c> for a buffer declared without one.</returns>
    let layout (name: string) (state: State) : BufferLayout =
        match state.Layouts.TryFind name with
        | Some l -> l
        | None -> BufferLayout.Elementwise

    /// <summary>Declares a value that belongs to the whole optimizer, with its starting value.</summary>
    /// <param name="name">Its name, unique in the optimizer (prefix it with the owner's name).</param>
    /// <param name="initial">Its starting value.</param>
    /// <param name="state">The state to extend.</param>
    /// <exception cref="T:System.ArgumentException">A value of that name is already declared.</exception>
    let declareGlobal (name: string) (initial: float) (state: State) : State =
        if state.Globals.ContainsKey name then
            invalidArg (nameof name) $"Two blocks declare the optimizer-wide value '{name}'."
        { state with Globals = state.Globals.Add(name, [| initial |]) }

    /// <summary>A value that belongs to the whole optimizer.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="state">The state.</param>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">No such value is declared.</exception>
    let globalValue (name: string) (state: State) : float =
        // TryGetValue, not TryFind: a step reads these, and must not allocate
        match state.Globals.TryGetValue name with
        | true, v -> v.[0]
        | _ ->
            let known = String.concat ", " (Map.keys state.Globals)
            raise (System.Collections.Generic.KeyNotFoundException($"The state declares no optimizer-wide value '{name}' (it has: {known})."))

    /// <summary>Replaces a value that belongs to the whole optimizer, returning a new state (the given one is not changed).</summary>
    /// <param name="name">Its name.</param>
    /// <param name="value">The new value.</param>
    /// <param name="state">The state.</param>
    let setGlobal (name: string) (value: float) (state: State) : State =
        { state with Globals = state.Globals.Add(name, [| value |]) }

    /// <summary>Merges the buffer declarations of two states over the same parameters (the chain's init).</summary>
    /// <param name="a">The first state.</param>
    /// <param name="b">The second state.</param>
    /// <exception cref="T:System.ArgumentException">Both declare a buffer or an optimizer-wide value of the same name, or they cover different parameter counts.</exception>
    let merge (a: State) (b: State) : State =
        if a.Steps.Length <> b.Steps.Length then
            invalidArg (nameof b) $"Cannot merge states over {a.Steps.Length} and {b.Steps.Length} parameters."
        let a = { a with Shapes = Array.map2 (fun (x: int[]) y -> if isNull x then y else x) a.Shapes b.Shapes }
        let a =
            b.Globals |> Map.fold (fun (s: State) name v ->
                if s.Globals.ContainsKey name then invalidArg (nameof b) $"Two blocks declare the optimizer-wide value '{name}'."
                { s with Globals = s.Globals.Add(name, v) }) a
        b.Buffers |> Map.fold (fun (s: State) name v ->
            if s.Buffers.ContainsKey name then
                invalidArg (nameof b) $"Two blocks declare the state buffer '{name}'; a chain's blocks must own distinct names."
            { s with
                Buffers = s.Buffers.Add(name, v)
                Layouts = (match b.Layouts.TryFind name with Some l -> s.Layouts.Add(name, l) | None -> s.Layouts) }) a

    /// <summary>The per-parameter arrays of a declared buffer.</summary>
    /// <param name="name">The buffer's name.</param>
    /// <param name="state">The state.</param>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">No such buffer is declared.</exception>
    let buffer (name: string) (state: State) : float32[][] =
        let mutable found = null
        if state.Buffers.TryGetValue(name, &found) then found
        else
            let known = String.concat ", " (Map.keys state.Buffers)
            raise (System.Collections.Generic.KeyNotFoundException($"The state declares no buffer '{name}' (it has: {known})."))

    /// <summary>Replaces one declared buffer's per-parameter arrays, returning a new state.</summary>
    /// <param name="name">The buffer's name.</param>
    /// <param name="values">One array (or null) per parameter.</param>
    /// <param name="state">The state.</param>
    let setBuffer (name: string) (values: float32[][]) (state: State) : State =
        { state with Buffers = state.Buffers.Add(name, values) }

    /// <summary>
    /// Counts one more step for every parameter that had a gradient (non-null entry), returning a new state.
    /// <c>Transform.update</c> calls it once per update, after all blocks ran.
    /// </summary>
    /// <param name="grads">Per parameter, its gradient or null.</param>
    /// <param name="state">The state.</param>
    let advance (grads: float32[][]) (state: State) : State =
        { state with Steps = Array.init state.Steps.Length (fun i -> if isNull grads.[i] then state.Steps.[i] else state.Steps.[i] + 1L) }

    /// <summary>A deep copy: no array is shared with the original.</summary>
    /// <param name="state">The state.</param>
    let copy (state: State) : State =
        { state with
            Globals = state.Globals |> Map.map (fun _ v -> Array.copy v)
            Steps = Array.copy state.Steps
            Buffers = state.Buffers |> Map.map (fun _ b -> b |> Array.map (fun a -> if isNull a then null else Array.copy a))
            Shapes = Array.copy state.Shapes }

    /// <summary>The state of the parameters of <paramref name="first"/> followed by those of <paramref name="second"/>.</summary>
    /// <remarks>The facade uses it when a param group is added; both must declare the same buffers.</remarks>
    /// <param name="first">The state of the earlier parameters.</param>
    /// <param name="second">The state of the later parameters.</param>
    /// <exception cref="T:System.ArgumentException">The two declare different buffers or optimizer-wide values.</exception>
    let append (first: State) (second: State) : State =
        let names (s: State) = s.Buffers |> Map.keys |> Set.ofSeq
        if names first <> names second then
            invalidArg (nameof second) "Cannot append states that declare different buffers."
        if (first.Globals |> Map.keys |> Set.ofSeq) <> (second.Globals |> Map.keys |> Set.ofSeq) then
            invalidArg (nameof second) "Cannot append states that declare different optimizer-wide values."
        { first with
            Steps = Array.append first.Steps second.Steps
            Buffers = first.Buffers |> Map.map (fun name b -> Array.append b second.Buffers.[name])
            Shapes = Array.append first.Shapes second.Shapes }

    /// <summary>The one-parameter state of parameter <paramref name="index"/>, sharing its arrays.</summary>
    /// <param name="index">The parameter's index.</param>
    /// <param name="state">The state.</param>
    let select (index: int) (state: State) : State =
        { state with
            Steps = [| state.Steps.[index] |]
            Buffers = state.Buffers |> Map.map (fun _ b -> [| b.[index] |])
            Shapes = [| state.Shapes.[index] |] }
