namespace Optim

open System
open System.Runtime.CompilerServices

/// A hyperparameter an elementwise op reads at every step. A block built with a number holds it in a cell no one
/// else sees, so the block is a pure value; the facade builds its chains over cells it refreshes from a param group
/// before each step, so that a scheduler's change takes effect at the next step without rebuilding the chain.
[<Sealed; AllowNullLiteral>]
type internal Cell(key: string, value: float) =
    /// The PyTorch key the facade fills this cell from (<c>"lr"</c>, <c>"betas"</c>, …); null for a constant.
    member _.Key = key
    /// For a pair (<c>"betas"</c>), which of its two values: 0 or 1.
    member val Index = 0 with get, set
    /// The current value.
    member val Value = value with get, set
    /// A cell no one refreshes.
    static member Const(value: float) = Cell(null, value)

/// A state buffer an elementwise op owns: its name (PyTorch's key) and the value it starts filled with.
[<Struct; NoComparison; NoEquality>]
type internal BufferDecl =
    { Name: string
      Initial: float32
      /// Created (filled) by Init for every parameter, as Adagrad's "sum"; otherwise at a parameter's first update.
      AtInit: bool
      /// Where the starting value comes from when it is a hyperparameter (Rprop's lr); null: <c>Initial</c>.
      InitialCell: Cell }
    /// The value a new buffer starts filled with.
    member d.Start = if isNull d.InitialCell then d.Initial else float32 d.InitialCell.Value
    /// A buffer created at a parameter's first update, filled with a constant.
    static member Lazy(name: string, initial: float32) = { Name = name; Initial = initial; AtInit = false; InitialCell = null }

/// One op's view of one chunk of one parameter: the updates (read and written), the parameter, the op's scalars for
/// this step, and its elementwise buffers over the chunk (read `In k`, write `Out k`: the same memory in place).
[<Struct; IsByRefLike>]
type internal Chunk =
    /// The incoming updates (the gradient, for the first op of a pass). Read element i before writing U's element i.
    val Src: ReadOnlySpan<float32>
    /// Where the op writes its outgoing updates; the same memory as Src but for the first op of a pass.
    val U: Span<float32>
    /// Whether Src and U are the same memory.
    val Aliased: bool
    /// For the last op of a pass: where the new parameter goes (`p·Decay + Scale·u`) instead of the updates; else empty.
    val POut: Span<float32>
    /// The apply stage's parameter decay, for the last op of a pass.
    val Decay: float32
    /// The apply stage's scale, for the last op of a pass.
    val Scale: float32
    val P: ReadOnlySpan<float32>
    val Scalars: ReadOnlySpan<float32>
    /// For an op that <c>TakesInput</c>, first in its pass: whether its input is the gradient negated (an absorbed
    /// <c>maximize</c>), read as <c>-1·g</c>.
    val Negate: bool
    /// For such an op: the coupled weight decay it adds to its input (an absorbed <c>addWeightDecay</c>), <c>x + λ·p</c>;
    /// 0 for none.
    val InDecay: float32
    val private ins: float32[][]
    val private outs: float32[][]
    val private slot: int
    val private lo: int
    new(src, u, aliased, p, scalars, pOut, decay, scale, ins, outs, slot, lo) =
        { Src = src; U = u; Aliased = aliased; P = p; Scalars = scalars; POut = pOut; Decay = decay; Scale = scale
          Negate = false; InDecay = 0.0f; ins = ins; outs = outs; slot = slot; lo = lo }
    new(src, u, aliased, p, scalars, pOut, decay, scale, negate, inDecay, ins, outs, slot, lo) =
        { Src = src; U = u; Aliased = aliased; P = p; Scalars = scalars; POut = pOut; Decay = decay; Scale = scale
          Negate = negate; InDecay = inDecay; ins = ins; outs = outs; slot = slot; lo = lo }
    /// Whether this op, the last of its pass, writes the new parameter instead of the updates.
    member c.Applies = not c.POut.IsEmpty
    /// The old values of the op's buffer k over this chunk.
    member c.In(k: int) = ReadOnlySpan<float32>(c.ins.[c.slot + k], c.lo, c.U.Length)
    /// Where the new values of the op's buffer k over this chunk go.
    member c.Out(k: int) = Span<float32>(c.outs.[c.slot + k], c.lo, c.U.Length)

/// What an op's `Prepare` sees for one parameter at one step.
[<Struct; IsByRefLike>]
type internal Prep =
    /// Updates the parameter completed before this one.
    val Step: int64
    /// The product of the scale ops this op absorbed (1 when none), in double.
    val Scale: float
    /// Whether the op's elementwise buffers were created for this update (its first).
    val First: bool
    /// Whether the op's parameter decay (if it has one) is applied by the apply stage (`p' = p·decay + u`) rather
    /// than added to the updates by its own kernel.
    val DeferDecay: bool
    /// The old values of the op's one-value-per-parameter buffers.
    val ScalarIn: ReadOnlySpan<float32>
    /// Where their new values go.
    val ScalarOut: Span<float32>
    /// Where the op's scalars for its kernel go (float32, computed in double).
    val Scalars: Span<float32>
    /// What the op's reduction over every parameter's incoming updates gave this step (NaN for an op without one).
    val Reduced: float
    /// Whether the parameter has incoming updates this step. Only a parameter stepped by an op that
    /// <c>StepsWithoutGradient</c> has none; the pass's input is then not to be read.
    val HasGradient: bool
    /// Whether a gate held this step (<c>Verdict.Hold</c>): the pass runs no further than the gate.
    val Holds: bool
    new(step, scale, first, deferDecay, scalarIn, scalarOut, scalars, reduced, hasGradient, holds) =
        { Step = step; Scale = scale; First = first; DeferDecay = deferDecay; ScalarIn = scalarIn; ScalarOut = scalarOut
          Scalars = scalars; Reduced = reduced; HasGradient = hasGradient; Holds = holds }

/// What a gate (see <c>ElementwiseOp.Decide</c>) makes of a step.
type internal Verdict =
    /// The step runs.
    | Run = 0
    /// Nothing runs: no parameter moves, no buffer changes, no step is counted.
    | Skip = 1
    /// Only the ops up to the gate run, for the parameters that have a gradient: the gate keeps what it was given (an
    /// accumulation); no parameter moves, the ops after the gate do not run, and no step is counted.
    | Hold = 2

/// What an op at the head of a pass can be to the op after it: nothing, or a step of its input that the next op's
/// kernel can take over (see <c>ElementwiseOp.TakesInput</c>), so that the pass has one loop fewer.
type internal InputRole =
    | None = 0
    /// `u = -1·g` (maximize).
    | Negate = 1
    /// `u = g + λ·p` (coupled weight decay), λ from <c>InputFactor</c>.
    | CoupledDecay = 2

/// <summary>
/// An elementwise block, written once: the buffers it owns, its per-parameter per-step scalars (computed once, in
/// double), and a SIMD span kernel over a chunk of elements. A chain of such ops runs as one pass over memory, in
/// place or into fresh buffers, with the same arithmetic either way.
/// </summary>
[<AbstractClass>]
type internal ElementwiseOp(name: string, buffers: BufferDecl[], scalarBuffers: BufferDecl[], scalarCount: int) =
    /// A short description, e.g. <c>scaleByAdam(0.9, 0.999, 1e-08)</c>.
    member _.Name = name
    /// Its buffers of one value per element.
    member _.Buffers = buffers
    /// Its buffers of one value per parameter (PyTorch's 0-dimensional state tensors).
    member _.ScalarBuffers = scalarBuffers
    /// How many float32 scalars `Prepare` writes for the kernel.
    member _.ScalarCount = scalarCount
    /// Whether a following scale op is folded into this op's own scalars, where PyTorch's rounding puts it
    /// (Adam's `(-(lr/bc1)·m) / (√v/√bc2 + ε)`).
    abstract Folds: bool
    default _.Folds = false
    /// Whether the op reads the parameter after the update (an average of the iterates), rather than before it.
    abstract ReadsNewParameter: bool
    default _.ReadsNewParameter = false
    /// Whether the op does anything this step with its current hyperparameters (SGD's momentum 0 does not, and keeps
    /// no buffer). An inactive op is skipped: no pass, no buffer.
    abstract IsActive: unit -> bool
    default _.IsActive() = true
    /// The hyperparameters it reads.
    abstract Cells: Cell list
    default _.Cells = []
    /// Whether the op needs a reduction over every parameter's incoming updates before any parameter steps (a global
    /// norm). Such an op starts its pass: a chain does not fuse it with the ops before it, so that its input is the
    /// pass's input.
    abstract Reduces: bool
    default _.Reduces = false
    /// The reduction, over the incoming updates of every parameter (null: no gradient); run once per step, before the
    /// parameters' passes. It may share its work between the kernel threads, but its result must not depend on that.
    abstract Reduce: inputs: float32[][] -> float
    default _.Reduce(_) = nan
    /// Whether <c>ReduceFromSquares</c> gives this op's reduction, for an engine that sums the squares of the inputs
    /// where they lie (a device's).
    abstract ReducesFromSquares: bool
    default _.ReducesFromSquares = false
    /// The reduction from each parameter's Σ float64(x·x) over its incoming updates, the squares in float32, for the
    /// parameters that have updates (`present`), equal to <c>Reduce</c> up to the order of the sums.
    abstract ReduceFromSquares: sums: float[] * present: bool[] -> float
    default o.ReduceFromSquares(_, _) = raise (NotSupportedException($"{o.Name} does not reduce from sums of squares."))
    /// The optimizer-wide values the op keeps (name, starting value), in the state's Globals.
    abstract Globals: (string * float) list
    default _.Globals = []
    /// For an op that gates its pass (applyIfFinite, multiSteps): what becomes of this step, decided once per step from
    /// its reduction; it writes its optimizer-wide values into `dst` (the state itself in place).
    abstract Decide: reduced: float * src: State * dst: State -> Verdict
    default _.Decide(_, _, _) = Verdict.Run
    /// Whether, on a step that runs, the op steps a parameter that has no incoming update but holds something for it
    /// (multiSteps's accumulated gradients): a positive value in the op's first one-value-per-parameter buffer. The op
    /// must then be the first of its pass that has a kernel; its <c>Prep.HasGradient</c> is false for such a parameter.
    abstract StepsWithoutGradient: bool
    default _.StepsWithoutGradient = false
    /// What this op is to the op after it when both head a pass (see <c>InputRole</c>).
    abstract InputRole: InputRole
    default _.InputRole = InputRole.None
    /// For a <c>CoupledDecay</c> input role: λ this step.
    abstract InputFactor: unit -> float32
    default _.InputFactor() = 0.0f
    /// Whether the op's kernel reads its input through <c>Chunk.Negate</c> and <c>Chunk.InDecay</c> (as
    /// <c>(±1·g) + λ·p</c>, the arithmetic of the ops it replaces, bit for bit), so that a leading maximize and coupled
    /// weight decay run inside its loop instead of as loops of their own, as PyTorch's fused kernels do.
    abstract TakesInput: bool
    default _.TakesInput = false
    /// Whether the op's kernel leaves the updates as they are (a gate's): the pass then skips it.
    abstract PassesThrough: bool
    default _.PassesThrough = false
    /// The op's structural switches, for a kernel derived from it elsewhere (a device's): bit 0 and bit 1 as the op
    /// documents them (Nesterov, AMSGrad, centered, from zeros); 0 for an op without any.
    abstract Flags: int
    default _.Flags = 0
    /// Computes this step's scalars and new per-parameter values; returns the parameter decay to defer to the apply
    /// stage (1 for none; an op that has a decay returns it only when `DeferDecay`, else its kernel adds it).
    abstract Prepare: prep: byref<Prep> -> float32
    /// The kernel over one chunk.
    abstract Run: chunk: byref<Chunk> -> unit

/// The apply stage of a fused pass: the new parameter from the updates.
[<AbstractClass; Sealed>]
type internal ApplyStage =

    /// `out = p·decay + s·u` (`p + u` when both are 1), elementwise, as PyTorch's `p.mul_(decay)` then
    /// `p.add_(u, alpha=s)`.
    static member Apply(p: ReadOnlySpan<float32>, u: ReadOnlySpan<float32>, decay: float32, s: float32, out: Span<float32>) =
        let mutable i = 0
        if Numerics.Vector.IsHardwareAccelerated then
            let vp = Runtime.InteropServices.MemoryMarshal.Cast<float32, Numerics.Vector<float32>> p
            let vu = Runtime.InteropServices.MemoryMarshal.Cast<float32, Numerics.Vector<float32>> u
            let vo = Runtime.InteropServices.MemoryMarshal.Cast<float32, Numerics.Vector<float32>> out
            let vd = Numerics.Vector<float32> decay
            let vs = Numerics.Vector<float32> s
            if decay = 1.0f && s = 1.0f then
                for k in 0 .. vp.Length - 1 do vo.[k] <- vp.[k] + vu.[k]
            elif decay = 1.0f then
                for k in 0 .. vp.Length - 1 do vo.[k] <- vp.[k] + vs * vu.[k]
            elif s = 1.0f then
                for k in 0 .. vp.Length - 1 do vo.[k] <- vp.[k] * vd + vu.[k]
            else
                for k in 0 .. vp.Length - 1 do vo.[k] <- vp.[k] * vd + vs * vu.[k]
            i <- vp.Length * Numerics.Vector<float32>.Count
        while i < p.Length do
            let x = if decay = 1.0f then p.[i] else p.[i] * decay
            out.[i] <- if s = 1.0f then x + u.[i] else x + s * u.[i]
            i <- i + 1

    /// `out = a - b`, elementwise: the updates that take `b` to `a`.
    static member Difference(a: ReadOnlySpan<float32>, b: ReadOnlySpan<float32>, out: Span<float32>) =
        for i in 0 .. a.Length - 1 do out.[i] <- a.[i] - b.[i]


/// An op that multiplies the updates by a factor of the step count: scale, learning rate, schedule.
type internal ScaleOp(name: string, factor: int64 -> float, cells: Cell list) =
    inherit ElementwiseOp(name, [||], [||], 1)
    /// The factor at a step (completed steps before this one), in double.
    member _.Factor(step: int64) = factor step
    override _.Cells = cells
    override _.Prepare(prep) =
        prep.Scalars.[0] <- float32 (factor prep.Step)
        1.0f
    override _.Run(c) =
        let s = c.Scalars.[0]
        if s <> 1.0f then
            let u = c.U
            let src = c.Src
            let mutable i = 0
            if Numerics.Vector.IsHardwareAccelerated then
                let vu = Runtime.InteropServices.MemoryMarshal.Cast<float32, Numerics.Vector<float32>> u
                let vsrc = Runtime.InteropServices.MemoryMarshal.Cast<float32, Numerics.Vector<float32>> src
                let vs = Numerics.Vector<float32> s
                for k in 0 .. vu.Length - 1 do vu.[k] <- vs * vsrc.[k]
                i <- vu.Length * Numerics.Vector<float32>.Count
            while i < u.Length do
                u.[i] <- s * src.[i]
                i <- i + 1
            if c.Applies then ApplyStage.Apply(c.P, Span.op_Implicit c.U, c.Decay, c.Scale, c.POut)
        elif c.Applies then ApplyStage.Apply(c.P, c.Src, c.Decay, c.Scale, c.POut)
        elif not c.Aliased then c.Src.CopyTo c.U

/// Maximize: `u = -1·g`. At the head of a pass, the op after it may read its input negated instead (see
/// <c>ElementwiseOp.TakesInput</c>); elsewhere it is the scale by -1 it always was.
[<Sealed>]
type internal SignFlipOp() =
    inherit ScaleOp("maximize", (fun _ -> -1.0), [])
    override _.InputRole = InputRole.Negate

/// A run of elementwise ops compiled for execution: each op's buffer slots (under the names the state holds them
/// by: a name an earlier op of the run already owns gets `@k`, k the op's position), scalar slots and roles.
[<Sealed>]
type internal Plan(ops: ElementwiseOp[]) =
    let bufBase = Array.zeroCreate ops.Length
    let sbufBase = Array.zeroCreate ops.Length
    let scalarBase = Array.zeroCreate ops.Length
    let names = Collections.Generic.List<string>()
    let decls = Collections.Generic.List<BufferDecl>()
    let snames = Collections.Generic.List<string>()
    let sdecls = Collections.Generic.List<BufferDecl>()
    let mutable scalars = 0
    do
        let taken = Collections.Generic.HashSet<string>()
        let claim k (n: string) = if taken.Add n then n else (let q = $"{n}@{k}" in taken.Add q |> ignore; q)
        ops |> Array.iteri (fun k op ->
            bufBase.[k] <- names.Count
            sbufBase.[k] <- snames.Count
            scalarBase.[k] <- scalars
            for d in op.Buffers do
                names.Add(claim k d.Name)
                decls.Add d
            for d in op.ScalarBuffers do
                snames.Add(claim k d.Name)
                sdecls.Add d
            scalars <- scalars + op.ScalarCount)
    member _.Ops = ops
    member _.BufBase = bufBase
    member _.ScalarBufBase = sbufBase
    member _.ScalarBase = scalarBase
    /// The state's names of the elementwise buffer slots, and their declarations.
    member val Names = names.ToArray()
    member val Decls = decls.ToArray()
    /// The state's names of the one-value-per-parameter buffer slots, and their declarations.
    member val ScalarNames = snames.ToArray()
    member val ScalarDecls = sdecls.ToArray()
    member _.ScalarCount = scalars
    /// Every hyperparameter cell the ops read.
    member _.Cells = ops |> Seq.collect (fun op -> op.Cells) |> Seq.distinct |> List.ofSeq

    /// Declares the plan's buffers in a state for these parameters, creating those made at init.
    member p.Init(ps: Tensor[]) : State =
        let mutable s = State.empty ps.Length
        p.Names |> Array.iteri (fun j n ->
            s <- State.declare n s
            let d = p.Decls.[j]
            if d.AtInit then s <- State.setBuffer n (ps |> Array.map (fun t -> Array.create t.Data.Length d.Start)) s)
        for n in p.ScalarNames do s <- State.declareScalar n s
        for op in p.Ops do
            for name, initial in op.Globals do s <- State.declareGlobal name initial s
        s

/// How a pass ends: write the new parameters, or the updates (the pure `Transform.update`).
type internal Mode =
    | Apply = 0
    | Updates = 1

/// A plan bound to the state tables of one step (`src` read, `dst` written; the same state in place), with the ops'
/// roles for the hyperparameters of this step: which are active, which scale ops are folded into the op before them,
/// whose parameter decay the apply stage takes, and where the ops that read the new parameter start.
[<Sealed; AllowNullLiteral>]
type internal Bound(plan: Plan, src: State, dst: State) =
    let n = plan.Ops.Length
    member val Src = src
    member val Dst = dst
    member val SrcTables = plan.Names |> Array.map (fun name -> State.buffer name src)
    member val DstTables = if obj.ReferenceEquals(src, dst) then null else plan.Names |> Array.map (fun name -> State.buffer name dst)
    member val SrcScalars = plan.ScalarNames |> Array.map (fun name -> State.buffer name src)
    member val DstScalars = if obj.ReferenceEquals(src, dst) then null else plan.ScalarNames |> Array.map (fun name -> State.buffer name dst)
    member _.Plan = plan
    member val Active : bool[] = Array.zeroCreate n
    /// Per op: no kernel of its own this step: absorbed into the folding op before it, or passing the updates through.
    member val Absorbed : bool[] = Array.zeroCreate n
    /// Per folding op: the end (exclusive) of the ops after it whose scale it absorbs.
    member val FoldEnd : int[] = Array.zeroCreate n
    member val DeferDecay : bool[] = Array.zeroCreate n
    /// The first op of the tail that reads the new parameter (after the apply).
    member val TailStart = n with get, set
    /// The scale op, last before the apply, whose factor the apply stage multiplies in (`p' = p·decay + s·u`, as
    /// PyTorch's `p.add_(u, alpha=-lr)`), or -1.
    member val ApplyScale = -1 with get, set
    /// The last op that runs before the apply stage, which then writes the new parameter itself (one loop over the
    /// chunk, as a hand-fused kernel), or -1 when there is none (the apply stage then runs as its own loop).
    member val LastPre = -1 with get, set
    member val InPlace = obj.ReferenceEquals(src, dst)
    /// The op that reads the pass's input through absorbed head ops (see <c>TakesInput</c>), or -1.
    member val InputOp = -1 with get, set
    /// Whether that op's input is negated (an absorbed maximize).
    member val InputNegate = false with get, set
    /// The absorbed coupled weight decay before it, or -1.
    member val InputDecayOp = -1 with get, set
    /// Per op: its reduction's result this step (see `Reduce`).
    member val Reduced : float[] = Array.create n nan

    /// Runs the reductions of the active ops that have one, over the pass's incoming updates. Called once per step,
    /// after `Refresh` and before any parameter's pass.
    member b.Reduce(inputs: float32[][]) = b.ReduceBy(inputs, null)

    /// `Reduce`, with each reducing op's result from `reduce k` (an engine that reduces where the updates lie).
    member b.ReduceWith(reduce: Func<int, float>) = b.ReduceBy(null, reduce)

    /// The loop of `Reduce` (`reduce` null: each op reduces `inputs`) and `ReduceWith`; allocates nothing.
    member private b.ReduceBy(inputs: float32[][], reduce: Func<int, float>) =
        let ops = plan.Ops
        b.Runs <- true
        b.HoldEnd <- -1
        b.Pending <- -1
        let mutable k = 0
        while b.Runs && b.HoldEnd < 0 && k < n do
            if b.Active.[k] && ops.[k].Reduces then
                b.Reduced.[k] <- (if isNull reduce then ops.[k].Reduce inputs else reduce.Invoke k)
                match ops.[k].Decide(b.Reduced.[k], src, (if b.InPlace then src else dst)) with
                | Verdict.Skip -> b.Runs <- false
                | Verdict.Hold -> b.HoldEnd <- k + 1
                | _ -> if ops.[k].StepsWithoutGradient then b.Pending <- k
            k <- k + 1

    /// Whether this step's passes run: false when a gate (see `Decide`) rejected the step.
    member val Runs = true with get, set
    /// When a gate held this step (see <c>Verdict.Hold</c>): the end (exclusive) of the ops that run; else -1.
    member val HoldEnd = -1 with get, set
    /// Whether a gate held this step: no parameter moves and no step is counted.
    member b.Holds = b.HoldEnd >= 0
    /// The op that steps parameters without a gradient this step (see <c>StepsWithoutGradient</c>), or -1.
    member val Pending = -1 with get, set

    /// Whether parameter `i`, whose incoming updates are `g` (null: none), takes part in this step's pass (after
    /// <c>Reduce</c>): it has a gradient, or an op holds something for it that this step releases.
    member b.Steps(i: int, g: float32[]) =
        b.Runs
        && (not (isNull g)
            || (b.Pending >= 0
                && (let t = b.SrcScalars.[plan.ScalarBufBase.[b.Pending]].[i] in not (isNull t) && t.[0] > 0.0f)))

    /// Reads the ops' activity for the current hyperparameters. Called at the start of each step.
    member b.Refresh() =
        let ops = plan.Ops
        for k in 0 .. n - 1 do
            b.Active.[k] <- ops.[k].IsActive()
            b.Absorbed.[k] <- ops.[k].PassesThrough
        // a leading maximize and coupled weight decay run inside the loop of the op after them, if it takes its input so
        let next (from: int) =
            let mutable j = from
            while j < n && not (b.Active.[j] && not b.Absorbed.[j]) do j <- j + 1
            j
        b.InputOp <- -1
        b.InputNegate <- false
        b.InputDecayOp <- -1
        let mutable t = next 0
        let mutable negate = -1
        let mutable decay = -1
        if t < n && ops.[t].InputRole = InputRole.Negate then
            negate <- t
            t <- next (t + 1)
        if t < n && ops.[t].InputRole = InputRole.CoupledDecay then
            decay <- t
            t <- next (t + 1)
        if t < n && (negate >= 0 || decay >= 0) && ops.[t].TakesInput && not ops.[t].ReadsNewParameter then
            if negate >= 0 then b.Absorbed.[negate] <- true
            if decay >= 0 then b.Absorbed.[decay] <- true
            b.InputOp <- t
            b.InputNegate <- negate >= 0
            b.InputDecayOp <- decay
        for k in 0 .. n - 1 do
            b.FoldEnd.[k] <- k + 1
            if b.Active.[k] && not b.Absorbed.[k] && ops.[k].Folds then
                let mutable j = k + 1
                let mutable go = true
                while go && j < n do
                    if not b.Active.[j] then j <- j + 1
                    elif ops.[j] :? ScaleOp then
                        b.Absorbed.[j] <- true
                        j <- j + 1
                    else go <- false
                b.FoldEnd.[k] <- j
        // the tail: the ops after the last active pre-update op that read the new parameter
        let mutable last = -1
        for k in 0 .. n - 1 do
            if b.Active.[k] && not b.Absorbed.[k] && not ops.[k].ReadsNewParameter then last <- k
        b.TailStart <- last + 1
        b.ApplyScale <- if last >= 0 && (ops.[last] :? ScaleOp) then last else -1
        let mutable lastPre = -1
        for k in 0 .. b.TailStart - 1 do
            if b.Active.[k] && not b.Absorbed.[k] && k <> b.ApplyScale then lastPre <- k
        b.LastPre <- if lastPre >= 0 && ops.[lastPre].ReadsNewParameter then -1 else lastPre
        for k in 0 .. n - 1 do b.DeferDecay.[k] <- k >= last

/// A per-thread scratch of float32 chunks, reused.
[<Sealed>]
type internal ChunkScratch() =
    [<ThreadStatic; DefaultValue>]
    static val mutable private u: float32[]
    [<ThreadStatic; DefaultValue>]
    static val mutable private t: float32[]
    /// The chunk size of a fused pass: its buffers' chunks (128 KiB each) stay in the core's L2 cache from one op to the
    /// next. Measured on the bench (16M parameters, 1 tensor): 8192 to 65536 elements are alike, smaller chunks slower.
    static member Size = 32768
    static member U =
        if isNull ChunkScratch.u then ChunkScratch.u <- Array.zeroCreate ChunkScratch.Size
        ChunkScratch.u
    static member T =
        if isNull ChunkScratch.t then ChunkScratch.t <- Array.zeroCreate ChunkScratch.Size
        ChunkScratch.t

/// One parameter's fused pass, as a job either kernel thread can run over a range of its elements: the resolved
/// buffers and scalars of every op, and the chunk loop. One per thread, reused.
[<Sealed; AllowNullLiteral>]
type internal Frame() =
    inherit RangeJob()
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: Frame
    static member Current : Frame =
        if isNull Frame.current then Frame.current <- Frame()
        Frame.current
    member val Ins : float32[][] = Array.zeroCreate 16 with get, set
    member val Outs : float32[][] = Array.zeroCreate 16 with get, set
    member val Scalars : float32[] = Array.zeroCreate 64 with get, set
    member val ScalarIn : float32[] = Array.zeroCreate 16 with get, set
    member val ScalarOut : float32[] = Array.zeroCreate 16 with get, set
    member val Bound : Bound = null with get, set
    member val P : float32[] = null with get, set
    member val G : float32[] = null with get, set
    member val Out : float32[] = null with get, set
    member val Decay = 1.0f with get, set
    /// The coupled weight decay the bound's input op absorbed, this step (0 for none).
    member val InDecay = 0.0f with get, set
    member val Mode = Mode.Apply with get, set
    member f.Ensure(slots: int, sslots: int, scalars: int) =
        if f.Ins.Length < slots then
            f.Ins <- Array.zeroCreate slots
            f.Outs <- Array.zeroCreate slots
        if f.ScalarIn.Length < sslots then
            f.ScalarIn <- Array.zeroCreate sslots
            f.ScalarOut <- Array.zeroCreate sslots
        if f.Scalars.Length < scalars then f.Scalars <- Array.zeroCreate scalars
    member f.Clear() =
        f.Bound <- null
        f.P <- null
        f.G <- null
        f.Out <- null
        Array.Clear f.Ins
        Array.Clear f.Outs
    override f.Run(lo, hi) =
        let b = f.Bound
        let plan = b.Plan
        let ops = plan.Ops
        let us = ChunkScratch.U
        let ts = ChunkScratch.T
        let decay = f.Decay
        let mutable a = lo
        while a < hi && b.Holds do
            // a held step: only the ops up to the gate run, on the gradient; nothing is applied
            let len = min ChunkScratch.Size (hi - a)
            let u = Span<float32>(us, 0, len)
            let g = ReadOnlySpan<float32>(f.G, a, len)
            let p = ReadOnlySpan<float32>(f.P, a, len)
            let mutable filled = false
            for k in 0 .. b.HoldEnd - 1 do
                if b.Active.[k] && not b.Absorbed.[k] then
                    let op = ops.[k]
                    let scalars = ReadOnlySpan<float32>(f.Scalars, plan.ScalarBase.[k], op.ScalarCount)
                    let input = k = b.InputOp
                    let mutable c =
                        Chunk((if filled then Span.op_Implicit u else g), u, filled, p, scalars, Span.Empty, 1.0f, 1.0f,
                              input && b.InputNegate, (if input then f.InDecay else 0.0f), f.Ins, f.Outs, plan.BufBase.[k], a)
                    op.Run &c
                    filled <- true
            a <- a + len
        while a < hi do
            let len = min ChunkScratch.Size (hi - a)
            let u = Span<float32>(us, 0, len)
            let g = ReadOnlySpan<float32>(f.G, a, len)
            let p = ReadOnlySpan<float32>(f.P, a, len)
            let applying = f.Mode = Mode.Apply
            let scale = if applying && b.ApplyScale >= 0 then f.Scalars.[plan.ScalarBase.[b.ApplyScale]] else 1.0f
            // the last op writes the new parameter itself, so that a pass is one loop over the chunk
            let applyIn = if applying then b.LastPre else -1
            let o = Span<float32>(f.Out, a, len)
            // the first op of the pass reads the gradient where it lies; the others read and write the chunk's updates
            let mutable filled = false
            for k in 0 .. b.TailStart - 1 do
                if b.Active.[k] && not b.Absorbed.[k] && not (k = b.ApplyScale && applying) then
                    let op = ops.[k]
                    let scalars = ReadOnlySpan<float32>(f.Scalars, plan.ScalarBase.[k], op.ScalarCount)
                    if op.ReadsNewParameter then
                        if not filled then
                            g.CopyTo u
                            filled <- true
                        // in the middle of a chain, the new parameter is what the updates so far make of it
                        let t = Span<float32>(ts, 0, len)
                        ApplyStage.Apply(p, Span.op_Implicit u, 1.0f, 1.0f, t)
                        let mutable c = Chunk(Span.op_Implicit u, u, true, Span.op_Implicit t, scalars, Span.Empty, 1.0f, 1.0f, f.Ins, f.Outs, plan.BufBase.[k], a)
                        op.Run &c
                    else
                        let pOut = if k = applyIn then o else Span.Empty
                        let input = k = b.InputOp
                        let mutable c =
                            Chunk((if filled then Span.op_Implicit u else g), u, filled, p, scalars, pOut, decay, scale,
                                  input && b.InputNegate, (if input then f.InDecay else 0.0f), f.Ins, f.Outs, plan.BufBase.[k], a)
                        op.Run &c
                        filled <- true
            let pNew =
                if applying then
                    if applyIn < 0 then ApplyStage.Apply(p, (if filled then Span.op_Implicit u else g), decay, scale, o)
                    Span.op_Implicit o
                else
                    if not filled then g.CopyTo u
                    if decay = 1.0f then
                        u.CopyTo o
                        if b.TailStart < ops.Length then
                            let t = Span<float32>(ts, 0, len)
                            ApplyStage.Apply(p, Span.op_Implicit u, 1.0f, 1.0f, t)
                            Span.op_Implicit t
                        else ReadOnlySpan<float32>.Empty
                    else
                        let t = Span<float32>(ts, 0, len)
                        ApplyStage.Apply(p, Span.op_Implicit u, decay, 1.0f, t)
                        ApplyStage.Difference(Span.op_Implicit t, p, o)
                        Span.op_Implicit t
            for k in b.TailStart .. ops.Length - 1 do
                if b.Active.[k] && not b.Absorbed.[k] then
                    let op = ops.[k]
                    let scalars = ReadOnlySpan<float32>(f.Scalars, plan.ScalarBase.[k], op.ScalarCount)
                    let mutable c = Chunk(Span.op_Implicit u, u, true, pNew, scalars, Span.Empty, 1.0f, 1.0f, f.Ins, f.Outs, plan.BufBase.[k], a)
                    op.Run &c
            a <- a + len

/// The apply stage and the per-parameter driver of a fused pass.
and [<AbstractClass; Sealed>] internal Fusion =

    /// Runs the bound plan on parameter `i`: resolves (and, on its first update, creates) its buffers, computes every
    /// op's scalars, and runs the chunk loop over its elements on the kernel threads (the caller counts the step). `out` receives
    /// the new parameter (Mode.Apply; `p` itself in place) or the updates (Mode.Updates).
    static member Step(b: Bound, i: int, p: float32[], g: float32[], out: float32[], mode: Mode) =
        Fusion.StepOver(b, i, p, g, out, mode, null, 0)

    /// <summary>
    /// The per-parameter half of a fused pass, for parameter `i` of `n` elements at this step (after `Refresh` and
    /// `Reduce`): resolves, and on its first update creates (filled with their starting values), the op's buffers into
    /// `f.Ins`/`f.Outs`, computes every running op's scalars into `f.Scalars` (at <c>Plan.ScalarBase</c>) and writes
    /// its new one-value-per-parameter values; returns the parameter decay the apply stage takes. The chunk loop over
    /// the elements is the other half (<c>Frame.Run</c>, or a device kernel derived from the same ops).
    /// </summary>
    static member PrepareParam(b: Bound, i: int, n: int, hasGradient: bool, f: Frame) : float32 =
        let plan = b.Plan
        let ops = plan.Ops
        f.Ensure(plan.Names.Length, plan.ScalarNames.Length, plan.ScalarCount)
        let step = b.Src.Steps.[i]
        let mutable decay = 1.0f
        // a held step prepares only the ops that run: the others' buffers and values stay as they are
        for k in 0 .. (if b.Holds then b.HoldEnd else ops.Length) - 1 do
            if b.Active.[k] && not b.Absorbed.[k] then
                let op = ops.[k]
                let bb = plan.BufBase.[k]
                let mutable first = false
                for j in 0 .. op.Buffers.Length - 1 do
                    let s = bb + j
                    let old = b.SrcTables.[s].[i]
                    let init = plan.Decls.[s].Start
                    if b.InPlace then
                        let a =
                            if isNull old then
                                first <- true
                                let a = Array.create n init
                                b.SrcTables.[s].[i] <- a
                                a
                            else old
                        f.Ins.[s] <- a
                        f.Outs.[s] <- a
                    else
                        // the kernel writes every element of a buffer it is given; a new one must start filled
                        let o = if isNull old then Array.zeroCreate n else Fusion.Fresh n
                        b.DstTables.[s].[i] <- o
                        if isNull old then
                            first <- true
                            if init <> 0.0f then Array.Fill(o, init)
                            f.Ins.[s] <- o
                        else f.Ins.[s] <- old
                        f.Outs.[s] <- o
                let sb = plan.ScalarBufBase.[k]
                for j in 0 .. op.ScalarBuffers.Length - 1 do
                    let old = b.SrcScalars.[sb + j].[i]
                    f.ScalarIn.[sb + j] <- if isNull old then plan.ScalarDecls.[sb + j].Start else old.[0]
                let mutable scale = 1.0
                for j in k + 1 .. b.FoldEnd.[k] - 1 do
                    if b.Absorbed.[j] then scale <- scale * (ops.[j] :?> ScaleOp).Factor step
                let mutable prep =
                    Prep(step, scale, first, b.DeferDecay.[k],
                         ReadOnlySpan<float32>(f.ScalarIn, sb, op.ScalarBuffers.Length),
                         Span<float32>(f.ScalarOut, sb, op.ScalarBuffers.Length),
                         Span<float32>(f.Scalars, plan.ScalarBase.[k], op.ScalarCount), b.Reduced.[k], hasGradient, b.Holds)
                decay <- decay * op.Prepare &prep
                for j in 0 .. op.ScalarBuffers.Length - 1 do
                    let s = sb + j
                    let old = b.SrcScalars.[s].[i]
                    if b.InPlace && not (isNull old) then old.[0] <- f.ScalarOut.[s]
                    else (if b.InPlace then b.SrcScalars else b.DstScalars).[s].[i] <- [| f.ScalarOut.[s] |]
        decay

    /// `Step`, over the whole parameter (`rows` null, on the kernel threads) or only over the given rows of `width`
    /// elements each (on the caller's thread): a sparse gradient's step, whose other rows keep their values and buffers.
    static member StepOver(b: Bound, i: int, p: float32[], g: float32[], out: float32[], mode: Mode, rows: int[], width: int) =
        let plan = b.Plan
        let ops = plan.Ops
        let n = p.Length
        let f = Frame.Current
        let hasGradient = not (isNull g)
        let decay = Fusion.PrepareParam(b, i, n, hasGradient, f)
        f.Bound <- b
        f.P <- p
        // without a gradient (see StepsWithoutGradient) the pass's input is any buffer of the parameter's length: the
        // first op does not read it
        f.G <- if hasGradient then g else f.Ins.[plan.BufBase.[b.Pending]]
        f.Out <- out
        f.Decay <- decay
        f.InDecay <- if b.InputDecayOp >= 0 then ops.[b.InputDecayOp].InputFactor() else 0.0f
        f.Mode <- mode
        try
            if isNull rows then Split.run f n
            else
                // runs of consecutive rows as one range each
                let mutable k = 0
                while k < rows.Length do
                    let mutable e = k + 1
                    while e < rows.Length && rows.[e] = rows.[e - 1] + 1 do e <- e + 1
                    f.Run(rows.[k] * width, rows.[e - 1] * width + width)
                    k <- e
        finally f.Clear()

    /// The in-place step of parameter `i` (after `Reduce`): if it takes part (see `Bound.Steps`), its pass over `p`
    /// itself, and its step counted unless a gate held the step. The one rule every in-place driver follows.
    static member StepInPlace(b: Bound, i: int, p: float32[], g: float32[]) =
        if b.Steps(i, g) then
            Fusion.Step(b, i, p, g, p, Mode.Apply)
            if not b.Holds then b.Src.Steps.[i] <- b.Src.Steps.[i] + 1L

    /// `StepInPlace` restricted to the given rows (strictly increasing, each of `width` elements) of parameter `i`, whose
    /// gradient `g` holds the rows' values at their places: a sparse gradient's step, as PyTorch's Adagrad takes it (only
    /// those rows of the parameter and of its buffers change; the step is counted once).
    static member StepRowsInPlace(b: Bound, i: int, p: float32[], g: float32[], rows: int[], width: int) =
        if b.Steps(i, g) then
            Fusion.StepOver(b, i, p, g, p, Mode.Apply, rows, width)
            if not b.Holds then b.Src.Steps.[i] <- b.Src.Steps.[i] + 1L

    /// A fresh float32 buffer for a pure step's output or new state: uninitialised, as the pass writes every element.
    /// (The pinned object heap, tried so that the GC would not copy these live buffers between generations, made whole
    /// pure steps slower: allocating there costs more than the copies saved.)
    static member Fresh(n: int) : float32[] = GC.AllocateUninitializedArray<float32>(n, false)

    /// The pure step of a bound plan (`src` read, `dst` written) over every parameter, shared between the kernel
    /// threads as the in-place step is: per parameter its new values (Mode.Apply) or its updates (Mode.Updates), in
    /// fresh buffers; null for a parameter that takes no part, and for every parameter of a held step. When `count`,
    /// each parameter's step is counted in `dst`.
    static member Pure(b: Bound, ps: float32[][], inputs: float32[][], mode: Mode, count: bool) : float32[][] =
        let n = ps.Length
        let outs : float32[][] = Array.zeroCreate n
        let sizes = Array.zeroCreate n
        let takes = Array.zeroCreate n
        for i in 0 .. n - 1 do
            if b.Steps(i, inputs.[i]) then
                takes.[i] <- true
                sizes.[i] <- ps.[i].Length
                if not b.Holds then outs.[i] <- Fusion.Fresh ps.[i].Length
        let holds = b.Holds
        Split.runEach sizes (Action<int>(fun i ->
            if takes.[i] then
                // a held step writes only the gate's buffers: its output is never written
                Fusion.Step(b, i, ps.[i], inputs.[i], (if holds then ps.[i] else outs.[i]), mode)
                if count && not holds then b.Dst.Steps.[i] <- b.Dst.Steps.[i] + 1L))
        outs
