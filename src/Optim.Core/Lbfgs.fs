namespace Optim

open System
open System.Numerics
open System.Text.Json
open System.Text.Json.Nodes

/// <summary>How LBFGS chooses the step length along its direction (PyTorch's <c>line_search_fn</c>).</summary>
[<RequireQualifiedAccess>]
type LineSearch =
    /// <summary>No line search (<c>None</c>): a fixed step of <c>lr</c> (the first iteration <c>min(1, 1/‖g‖₁)·lr</c>).</summary>
    | None
    /// <summary>A line search for a step that satisfies the strong Wolfe conditions (<c>"strong_wolfe"</c>), with
    /// <c>c₁ = 1e-4</c>, <c>c₂ = 0.9</c>, at most 25 evaluations and a bracket tolerance of 1e-9, as PyTorch's
    /// <c>_strong_wolfe</c> (which LBFGS calls without its own <c>tolerance_change</c>).</summary>
    | StrongWolfe

/// <summary>Hyperparameters of LBFGS, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type LbfgsOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1): the fixed step length, or the line search's first trial step.</summary>
      Lr: float
      /// <summary>The most iterations per <c>step</c> (<c>max_iter</c>, default 20).</summary>
      MaxIter: int
      /// <summary>The most closure evaluations per <c>step</c> (<c>max_eval</c>); <c>None</c> (the default) means
      /// <c>MaxIter * 5 / 4</c>, rounded down.</summary>
      MaxEval: int option
      /// <summary>Stop when the largest gradient element is at most this (<c>tolerance_grad</c>, default 1e-7).</summary>
      ToleranceGrad: float
      /// <summary>Stop when the step or the change in loss is below this (<c>tolerance_change</c>, default 1e-9).</summary>
      ToleranceChange: float
      /// <summary>How many curvature pairs to keep (<c>history_size</c>, default 100).</summary>
      HistorySize: int
      /// <summary>The line search (<c>line_search_fn</c>, default none).</summary>
      LineSearch: LineSearch }

/// <summary>Defaults and validation for <see cref="T:Optim.LbfgsOptions"/>.</summary>
[<RequireQualifiedAccess>]
module LbfgsOptions =

    /// <summary>torch.optim.LBFGS's defaults.</summary>
    let defaults : LbfgsOptions =
        { Lr = 1.0; MaxIter = 20; MaxEval = None; ToleranceGrad = 1e-7; ToleranceChange = 1e-9; HistorySize = 100
          LineSearch = LineSearch.None }

    let private atLeastOne (name: string) (key: string) (value: int) =
        if value < 1 then raise (ArgumentOutOfRangeException(name, value, $"Invalid {key} value: {value}; it must be 1 or more."))

    /// <summary>
    /// Checks the options and returns them. PyTorch checks none of them; here <c>lr</c> and both tolerances must be
    /// finite and 0 or more, and <c>max_iter</c>, <c>max_eval</c> and <c>history_size</c> 1 or more (PyTorch fails
    /// with an <c>IndexError</c> on a history size of 0, and does nothing useful with no iteration or evaluation).
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range; <c>ParamName</c> is the argument
    /// (<c>lr</c>, <c>maxIter</c>, <c>maxEval</c>, <c>toleranceGrad</c>, <c>toleranceChange</c>, <c>historySize</c>) and the
    /// message carries PyTorch's key and the value.</exception>
    let validate (o: LbfgsOptions) =
        Validate.nonNegative "lr" "lr" o.Lr
        atLeastOne "maxIter" "max_iter" o.MaxIter
        match o.MaxEval with
        | Some e -> atLeastOne "maxEval" "max_eval" e
        | None -> ()
        Validate.nonNegative "toleranceGrad" "tolerance_grad" o.ToleranceGrad
        Validate.nonNegative "toleranceChange" "tolerance_change" o.ToleranceChange
        atLeastOne "historySize" "history_size" o.HistorySize
        o

    /// <summary>The evaluation budget of one step: <c>MaxEval</c>, or <c>MaxIter * 5 / 4</c> (PyTorch's <c>max_iter * 5 // 4</c>).</summary>
    /// <param name="o">The options.</param>
    let maxEval (o: LbfgsOptions) =
        match o.MaxEval with
        | Some e -> e
        | None -> int (min (int64 Int32.MaxValue) (int64 o.MaxIter * 5L / 4L))

/// <summary>
/// What LBFGS carries from one iteration to the next once it has iterated: PyTorch's <c>state</c> entries other
/// than the counters. Vectors are flat over all parameters, in parameter order, row-major.
/// </summary>
type LbfgsMemory =
    { /// <summary>The last search direction (<c>d</c>).</summary>
      D: float32[]
      /// <summary>The last step length (<c>t</c>); only its float32 rounding enters the next iteration.</summary>
      T: float
      /// <summary>The gradient differences <c>y = g' − g</c> of the kept curvature pairs, oldest first (<c>old_dirs</c>).</summary>
      OldDirs: float32[][]
      /// <summary>The steps <c>s = t·d</c> of the kept curvature pairs, oldest first (<c>old_stps</c>).</summary>
      OldStps: float32[][]
      /// <summary>Per pair, <c>1 / (y·s)</c> (<c>ro</c>).</summary>
      Ro: float32[]
      /// <summary>The scale <c>γ = y·s / y·y</c> of the initial inverse Hessian, from the newest pair (<c>H_diag</c>; 1 before any).</summary>
      HDiag: float32
      /// <summary>The gradient at the start of the last iteration (<c>prev_flat_grad</c>).</summary>
      PrevFlatGrad: float32[]
      /// <summary>The loss at the start of the last iteration (<c>prev_loss</c>).</summary>
      PrevLoss: float }

/// <summary>
/// The state of LBFGS, as PyTorch's (one global state, which PyTorch files under the first parameter): the
/// counters, and the memory once the first iteration has run. Immutable: <see cref="M:Optim.Lbfgs.step"/> returns
/// a new state and never writes into the arrays of the one it is given.
/// </summary>
type LbfgsState =
    { /// <summary>Closure evaluations over all steps (<c>func_evals</c>).</summary>
      FuncEvals: int64
      /// <summary>Iterations over all steps (<c>n_iter</c>).</summary>
      NIter: int64
      /// <summary>Direction, step, curvature pairs, last gradient and loss; <c>None</c> before the first iteration.</summary>
      Memory: LbfgsMemory option }

/// <summary>Functions over <see cref="T:Optim.LbfgsState"/>.</summary>
[<RequireQualifiedAccess>]
module LbfgsState =

    /// <summary>The state before the first step (PyTorch's empty <c>state</c>).</summary>
    let initial : LbfgsState = { FuncEvals = 0L; NIter = 0L; Memory = None }

    /// <summary>A deep copy: no array is shared with the original.</summary>
    /// <param name="s">The state.</param>
    let copy (s: LbfgsState) : LbfgsState =
        { s with
            Memory =
                s.Memory |> Option.map (fun m ->
                    { m with
                        D = Array.copy m.D
                        OldDirs = m.OldDirs |> Array.map Array.copy
                        OldStps = m.OldStps |> Array.map Array.copy
                        Ro = Array.copy m.Ro
                        PrevFlatGrad = Array.copy m.PrevFlatGrad }) }

    /// <summary>Checks that a state fits parameters of <paramref name="numel"/> elements in all.</summary>
    /// <param name="numel">The parameters' total element count.</param>
    /// <param name="s">The state.</param>
    /// <exception cref="T:System.ArgumentException">A counter is negative, iterations are counted without a memory, a
    /// vector has another length, or the curvature pairs' lists differ in length; <c>ParamName</c> is <c>state</c>.</exception>
    let check (numel: int) (s: LbfgsState) =
        let fail (msg: string) = invalidArg "state" msg
        if s.FuncEvals < 0L || s.NIter < 0L then fail $"The counters must be 0 or more (func_evals={s.FuncEvals}, n_iter={s.NIter})."
        match s.Memory with
        | None ->
            if s.NIter > 0L then fail $"The state counts {s.NIter} iterations but holds no memory of them (d, t, old_dirs, ...)."
        | Some m ->
            let vector (what: string) (v: float32[]) =
                if isNull v then fail $"The state's {what} is null."
                if v.Length <> numel then fail $"The state's {what} has {v.Length} elements, but the parameters have {numel}."
            vector "d" m.D
            vector "prev_flat_grad" m.PrevFlatGrad
            if isNull m.OldDirs || isNull m.OldStps || isNull m.Ro then fail "The state's history (old_dirs, old_stps, ro) is null."
            if m.OldDirs.Length <> m.OldStps.Length || m.OldDirs.Length <> m.Ro.Length then
                fail $"The state holds {m.OldDirs.Length} old_dirs, {m.OldStps.Length} old_stps and {m.Ro.Length} ro; they must be as many."
            m.OldDirs |> Array.iteri (fun i v -> vector $"old_dirs[{i}]" v)
            m.OldStps |> Array.iteri (fun i v -> vector $"old_stps[{i}]" v)

/// A scalar of PyTorch's LBFGS as Python holds it: a Python float (double, `D`) or a 0-dim float32 tensor (`F`).
/// The line search mixes both, and the type decides the arithmetic: an operation with a tensor rounds the Python
/// float to float32 and computes in float32; `float / tensor` is `reciprocal(tensor) * float` (Tensor.__rtruediv__);
/// a comparison with a tensor compares in float32. Matching this is what makes the trial steps equal PyTorch's.
[<Struct; NoComparison; NoEquality>]
type internal Num =
    | D of d: float
    | F of f: float32

[<RequireQualifiedAccess>]
module internal Num =

    let value (a: Num) = match a with D x -> x | F x -> float x

    let single (a: Num) = match a with D x -> float32 x | F x -> x

    let add a b =
        match a, b with
        | D x, D y -> D(x + y)
        | F x, F y -> F(x + y)
        | F x, D y -> F(x + float32 y)
        | D x, F y -> F(float32 x + y)

    let sub a b =
        match a, b with
        | D x, D y -> D(x - y)
        | F x, F y -> F(x - y)
        | F x, D y -> F(x - float32 y)
        | D x, F y -> F(float32 x - y)

    let mul a b =
        match a, b with
        | D x, D y -> D(x * y)
        | F x, F y -> F(x * y)
        | F x, D y -> F(x * float32 y)
        | D x, F y -> F(float32 x * y)

    let div a b =
        match a, b with
        | D x, D y -> D(x / y)
        | F x, F y -> F(x / y)
        | F x, D y -> F(x / float32 y)
        | D x, F y -> F((1.0f / y) * float32 x)

    let abs a = match a with D x -> D(Math.Abs x) | F x -> F(MathF.Abs x)

    let sqrt a = match a with D x -> D(Math.Sqrt x) | F x -> F(MathF.Sqrt x)

    let private compare (cd: float -> float -> bool) (cf: float32 -> float32 -> bool) a b =
        match a, b with
        | D x, D y -> cd x y
        | F x, F y -> cf x y
        | F x, D y -> cf x (float32 y)
        | D x, F y -> cf (float32 x) y

    let lt = compare (<) (<)
    let le = compare (<=) (<=)
    let gt = compare (>) (>)
    let ge = compare (>=) (>=)

    /// Python's max(a, b): a unless b > a.
    let pyMax a b = if gt b a then b else a

    /// Python's min(a, b): a unless b < a.
    let pyMin a b = if lt b a then b else a

/// The flat float32 vector operations of PyTorch 1.13 on CPU, with its rounding.
[<RequireQualifiedAccess>]
module internal Flat =

    /// torch.dot: the reference BLAS sdot, a sequential float32 sum of separately rounded products.
    let dot (a: float32[]) (b: float32[]) =
        let mutable s = 0.0f
        for i in 0 .. a.Length - 1 do
            s <- s + a.[i] * b.[i]
        s

    /// v.abs().max(); NaN if any element is NaN; 0 for an empty vector.
    let absMax (v: float32[]) =
        let mutable m = 0.0f
        for x in v do
            let a = MathF.Abs x
            if a > m || Single.IsNaN a then m <- a
        m

    /// `x + alpha·d` as Tensor.add_(d, alpha=alpha): one fused multiply-add per element.
    let addScaled (x: float32[]) (alpha: float32) (d: float32[]) =
        Array.init x.Length (fun i -> MathF.FusedMultiplyAdd(alpha, d.[i], x.[i]))

    let private ceilLog2 (x: int) = if x <= 2 then 1 else 64 - BitOperations.LeadingZeroCount(uint64 (x - 1))

    /// ATen's multi_row_sum: four interleaved accumulators (each `width` lanes) over `size` rows, cascaded in levels.
    let private multiRowSum (width: int) (size: int) (load: int -> int -> int -> float32) =
        let levels = 4
        let levelPower = max 4 (ceilLog2 size / levels)
        let levelStep = 1 <<< levelPower
        let levelMask = levelStep - 1
        let acc = Array.init levels (fun _ -> Array.init 4 (fun _ -> Array.zeroCreate<float32> width))
        let addRow (i: int) =
            for k in 0 .. 3 do
                for l in 0 .. width - 1 do
                    acc.[0].[k].[l] <- acc.[0].[k].[l] + load i k l
        let mutable i = 0
        while i + levelStep <= size do
            for _ in 1 .. levelStep do
                addRow i
                i <- i + 1
            let mutable j = 1
            let mutable cascading = true
            while cascading && j < levels do
                for k in 0 .. 3 do
                    for l in 0 .. width - 1 do
                        acc.[j].[k].[l] <- acc.[j].[k].[l] + acc.[j - 1].[k].[l]
                        acc.[j - 1].[k].[l] <- 0.0f
                if (i &&& (levelMask <<< (j * levelPower))) <> 0 then cascading <- false
                j <- j + 1
        while i < size do
            addRow i
            i <- i + 1
        for j in 1 .. levels - 1 do
            for k in 0 .. 3 do
                for l in 0 .. width - 1 do
                    acc.[0].[k].[l] <- acc.[0].[k].[l] + acc.[j].[k].[l]
        acc.[0]

    /// ATen's row_sum: multi_row_sum over groups of four items, the rest into the first accumulator, then the four folded.
    let private rowSum (width: int) (size: int) (item: int -> int -> float32) =
        let sizeIlp = size / 4
        let partial = multiRowSum width sizeIlp (fun i k l -> item (4 * i + k) l)
        for i in sizeIlp * 4 .. size - 1 do
            for l in 0 .. width - 1 do
                partial.[0].[l] <- partial.[0].[l] + item i l
        for k in 1 .. 3 do
            for l in 0 .. width - 1 do
                partial.[0].[l] <- partial.[0].[l] + partial.[k].[l]
        partial.[0]

    /// v.sum() of a contiguous float32 vector as ATen's cascade_sum computes it single-threaded with AVX2
    /// (8 lanes): float32 accumulators in a fixed order, not the sequential sum.
    let sum (v: float32[]) =
        let lanes = 8
        let n = v.Length
        if n >= lanes then
            let vectors = n / lanes
            let acc = rowSum lanes vectors (fun i l -> v.[i * lanes + l])
            let mutable total = 0.0f
            for k in vectors * lanes .. n - 1 do
                total <- total + v.[k]
            for l in 0 .. lanes - 1 do
                total <- total + acc.[l]
            total
        else (rowSum 1 n (fun i _ -> v.[i])).[0]

/// PyTorch's _cubic_interpolate and _strong_wolfe (torch/optim/lbfgs.py), over `Num` so that every Python float and
/// 0-dim tensor keeps its type and rounding.
module internal StrongWolfe =

    /// The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to the bounds.
    let cubicInterpolate (x1: Num) (f1: float) (g1: Num) (x2: Num) (f2: float) (g2: Num) (bounds: (Num * Num) option) =
        let xminBound, xmaxBound =
            match bounds with
            | Some b -> b
            | None -> if Num.le x1 x2 then x1, x2 else x2, x1
        // d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        let d1 = Num.sub (Num.add g1 g2) (Num.div (Num.mul (D 3.0) (D(f1 - f2))) (Num.sub x1 x2))
        let d2Square = Num.sub (Num.mul d1 d1) (Num.mul g1 g2)
        if Num.ge d2Square (D 0.0) then
            let d2 = Num.sqrt d2Square
            let minPos =
                if Num.le x1 x2 then
                    // x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                    Num.sub x2 (Num.mul (Num.sub x2 x1) (Num.div (Num.sub (Num.add g2 d2) d1) (Num.add (Num.sub g2 g1) (Num.mul (D 2.0) d2))))
                else
                    Num.sub x1 (Num.mul (Num.sub x1 x2) (Num.div (Num.sub (Num.add g1 d2) d1) (Num.add (Num.sub g1 g2) (Num.mul (D 2.0) d2))))
            Num.pyMin (Num.pyMax minPos xminBound) xmaxBound
        else Num.div (Num.add xminBound xmaxBound) (D 2.0)

    let private c1 = D 1e-4
    let private minusC2 = D -0.9
    let private toleranceChange = D 1e-9
    let private maxLs = 25

    /// The line search: the step length it settles on, the loss and gradient there, and the evaluations it made.
    /// `evaluate t` is the closure at x + t·d. PyTorch calls it without its tolerance_change, so it uses 1e-9.
    let search (evaluate: Num -> float * float32[]) (t0: Num) (d: float32[]) (f: float) (g: float32[]) (gtd: float32) =
        let gtd = F gtd
        let dNorm = F(Flat.absMax d)
        // Armijo: f_new > f + c1 * t * gtd, with f rounded into the tensor arithmetic
        let armijoFails (fNew: float) (t: Num) = Num.gt (D fNew) (Num.add (D f) (Num.mul (Num.mul c1 t) gtd))
        let curvatureHolds (gtdNew: Num) = Num.le (Num.abs gtdNew) (Num.mul minusC2 gtd)
        let mutable t = t0
        let f0, g0 = evaluate t
        let mutable fNew = f0
        let mutable gNew = g0
        let mutable evals = 1
        let mutable gtdNew = F(Flat.dot gNew d)
        let mutable tPrev = D 0.0
        let mutable fPrev = f
        let mutable gPrev = g
        let mutable gtdPrev = gtd
        let mutable isDone = false
        let mutable lsIter = 0
        let bracket = Array.create 2 (D 0.0)
        let bracketF = Array.zeroCreate<float> 2
        let bracketG = Array.zeroCreate<float32[]> 2
        let bracketGtd = Array.create 2 (F 0.0f)
        let setPair () =
            bracket.[0] <- tPrev; bracket.[1] <- t
            bracketF.[0] <- fPrev; bracketF.[1] <- fNew
            bracketG.[0] <- gPrev; bracketG.[1] <- gNew
            bracketGtd.[0] <- gtdPrev; bracketGtd.[1] <- gtdNew
        let mutable bracketing = true
        while bracketing && lsIter < maxLs do
            if armijoFails fNew t || (lsIter > 1 && fNew >= fPrev) then
                setPair ()
                bracketing <- false
            elif curvatureHolds gtdNew then
                // a one-point bracket: index 0 is both ends
                bracket.[0] <- t; bracket.[1] <- t
                bracketF.[0] <- fNew; bracketF.[1] <- fNew
                bracketG.[0] <- gNew; bracketG.[1] <- gNew
                isDone <- true
                bracketing <- false
            elif Num.ge gtdNew (D 0.0) then
                setPair ()
                bracketing <- false
            else
                let minStep = Num.add t (Num.mul (D 0.01) (Num.sub t tPrev))
                let maxStep = Num.mul t (D 10.0)
                let tmp = t
                t <- cubicInterpolate tPrev fPrev gtdPrev t fNew gtdNew (Some(minStep, maxStep))
                tPrev <- tmp
                fPrev <- fNew
                gPrev <- gNew
                gtdPrev <- gtdNew
                let fe, ge = evaluate t
                fNew <- fe
                gNew <- ge
                evals <- evals + 1
                gtdNew <- F(Flat.dot gNew d)
                lsIter <- lsIter + 1
        if lsIter = maxLs then
            bracket.[0] <- D 0.0; bracket.[1] <- t
            bracketF.[0] <- f; bracketF.[1] <- fNew
            bracketG.[0] <- g; bracketG.[1] <- gNew
        let mutable lowPos = 0
        let mutable highPos = 1
        let order () =
            let low = if bracketF.[0] <= bracketF.[1] then 0 else 1
            lowPos <- low
            highPos <- 1 - low
        order ()
        let mutable insufProgress = false
        let mutable zooming = true
        while zooming && not isDone && lsIter < maxLs do
            if Num.lt (Num.mul (Num.abs (Num.sub bracket.[1] bracket.[0])) dNorm) toleranceChange then zooming <- false
            else
                t <- cubicInterpolate bracket.[0] bracketF.[0] bracketGtd.[0] bracket.[1] bracketF.[1] bracketGtd.[1] None
                let hi () = Num.pyMax bracket.[0] bracket.[1]
                let lo () = Num.pyMin bracket.[0] bracket.[1]
                let eps = Num.mul (D 0.1) (Num.sub (hi ()) (lo ()))
                if Num.lt (Num.pyMin (Num.sub (hi ()) t) (Num.sub t (lo ()))) eps then
                    if insufProgress || Num.ge t (hi ()) || Num.le t (lo ()) then
                        t <- if Num.lt (Num.abs (Num.sub t (hi ()))) (Num.abs (Num.sub t (lo ()))) then Num.sub (hi ()) eps
                             else Num.add (lo ()) eps
                        insufProgress <- false
                    else insufProgress <- true
                else insufProgress <- false
                let fe, ge = evaluate t
                fNew <- fe
                gNew <- ge
                evals <- evals + 1
                gtdNew <- F(Flat.dot gNew d)
                lsIter <- lsIter + 1
                if armijoFails fNew t || fNew >= bracketF.[lowPos] then
                    bracket.[highPos] <- t
                    bracketF.[highPos] <- fNew
                    bracketG.[highPos] <- gNew
                    bracketGtd.[highPos] <- gtdNew
                    order ()
                else
                    if curvatureHolds gtdNew then isDone <- true
                    elif Num.ge (Num.mul gtdNew (Num.sub bracket.[highPos] bracket.[lowPos])) (D 0.0) then
                        bracket.[highPos] <- bracket.[lowPos]
                        bracketF.[highPos] <- bracketF.[lowPos]
                        bracketG.[highPos] <- bracketG.[lowPos]
                        bracketGtd.[highPos] <- bracketGtd.[lowPos]
                    bracket.[lowPos] <- t
                    bracketF.[lowPos] <- fNew
                    bracketG.[lowPos] <- gNew
                    bracketGtd.[lowPos] <- gtdNew
        struct (bracketF.[lowPos], bracketG.[lowPos], bracket.[lowPos], evals)

/// <summary>
/// L-BFGS, as <c>torch.optim.LBFGS</c> of PyTorch 1.13 (Nocedal, "Updating Quasi-Newton Matrices with Limited
/// Storage", 1980; Liu &amp; Nocedal, 1989; the code follows Schmidt's minFunc as PyTorch does). One
/// <see cref="M:Optim.Lbfgs.step"/> runs up to <c>max_iter</c> iterations on the flat vector <c>x</c> of all
/// parameters, calling the closure for the loss and gradient <c>g</c> as needed.
/// </summary>
/// <remarks>
/// <para>Per iteration: with the newest pair <c>y = g − g_prev</c>, <c>s = t·d</c> kept when <c>y·s &gt; 1e-10</c>
/// (the oldest dropped past <c>history_size</c>), and <c>γ = y·s / y·y</c>, the two-loop recursion gives
/// <c>d = −H·g</c>: <c>q = −g</c>; newest to oldest <c>αᵢ = ρᵢ sᵢ·q</c>, <c>q −= αᵢ yᵢ</c>; <c>r = γ q</c>; oldest to
/// newest <c>βᵢ = ρᵢ yᵢ·r</c>, <c>r += (αᵢ − βᵢ) sᵢ</c>; <c>d = r</c> (<c>ρᵢ = 1/(yᵢ·sᵢ)</c>). The very first iteration
/// takes <c>d = −g</c> and <c>t = min(1, 1/‖g‖₁)·lr</c>, later ones <c>t = lr</c>, or the strong Wolfe line search
/// started there; then <c>x = x + t·d</c>.</para>
/// <para>It stops when <c>max|g| ≤ tolerance_grad</c> (also before the first iteration, after one evaluation),
/// <c>g·d &gt; −tolerance_change</c>, <c>max|t·d| ≤ tolerance_change</c>, <c>|loss − prev_loss| &lt; tolerance_change</c>,
/// or after <c>max_iter</c> iterations or <c>max_eval</c> evaluations. Without a line search the last iteration
/// does not re-evaluate the closure.</para>
/// <para>The arithmetic is PyTorch's on CPU: float32 vectors, sequential float32 dot products (reference BLAS),
/// fused multiply-adds for <c>add_(…, alpha=…)</c>, ATen's cascaded float32 sum for <c>‖g‖₁</c>, and the line search's
/// mix of Python floats and 0-dim float32 tensors. Where <c>history_size</c> is lowered mid-run below the number of
/// pairs kept, the oldest pairs are dropped down to the new size (PyTorch keeps growing the history then, and fails
/// once it outgrows its scratch list; it fails likewise when <c>history_size</c> is raised).</para>
/// </remarks>
[<RequireQualifiedAccess>]
module Lbfgs =

    let private flatten (ps: Tensor[]) =
        let n = ps |> Array.sumBy (fun p -> p.Data.Length)
        let x = Array.zeroCreate<float32> n
        let mutable offset = 0
        for p in ps do
            p.Data.CopyTo(x, offset)
            offset <- offset + p.Data.Length
        x

    let private unflatten (ps: Tensor[]) (x: float32[]) =
        let mutable offset = 0
        ps |> Array.map (fun p ->
            let data = Array.sub x offset p.Data.Length
            offset <- offset + p.Data.Length
            { Shape = Array.copy p.Shape; Data = data })

    /// The closure's gradients as one flat vector; a null gradient is zeros (PyTorch's _gather_flat_grad).
    let private gather (ps: Tensor[]) (n: int) (grads: float32[][]) =
        if isNull grads then invalidArg "evaluate" "The evaluation function returned null gradients."
        if grads.Length <> ps.Length then
            invalidArg "evaluate" $"The evaluation function returned {grads.Length} gradients for {ps.Length} parameters."
        let g = Array.zeroCreate<float32> n
        let mutable offset = 0
        for i in 0 .. ps.Length - 1 do
            let gi = grads.[i]
            let len = ps.[i].Data.Length
            if not (isNull gi) then
                if gi.Length <> len then
                    invalidArg "evaluate" $"Gradient {i} has {gi.Length} elements, but its parameter has shape {Tensor.formatShape ps.[i].Shape}."
                gi.CopyTo(g, offset)
            offset <- offset + len
        g

    /// <summary>
    /// One <c>optimizer.step(closure)</c> of <c>torch.optim.LBFGS</c>: up to <c>MaxIter</c> iterations, each calling
    /// <paramref name="evaluate"/> (the closure) for the loss and gradients at trial parameters. Pure: the arguments
    /// are not modified (the evaluation function gets fresh tensors each call).
    /// </summary>
    /// <param name="options">The hyperparameters.</param>
    /// <param name="evaluate">The closure: parameters to the loss and one gradient per parameter (null: zeros).</param>
    /// <param name="parameters">The parameters; at least one.</param>
    /// <param name="state">The state from <see cref="P:Optim.LbfgsStateModule.initial"/> or the previous step.</param>
    /// <returns>The new parameters, the new state and the loss of the first evaluation (what PyTorch's <c>step</c> returns).</returns>
    /// <exception cref="T:System.ArgumentException">The options are invalid, there are no parameters, the state does not
    /// fit them, or the evaluation function returns gradients that do not fit them.</exception>
    /// <example>
    /// <code>
    /// let loss (ps: Tensor[]) = let x = ps.[0].Data in (x.[0] - 3.0f) * (x.[0] - 3.0f), [| [| 2.0f * (x.[0] - 3.0f) |] |]
    /// let ps, state, firstLoss = Lbfgs.step LbfgsOptions.defaults loss [| Tensor.ofArray [| 0.0f |] |] LbfgsState.initial
    /// // ps.[0].Data = [| 3.0f |], firstLoss = 9.0f
    /// </code>
    /// </example>
    let step (options: LbfgsOptions) (evaluate: Tensor[] -> float32 * float32[][]) (parameters: Tensor[]) (state: LbfgsState) =
        if isNull (box evaluate) then nullArg (nameof evaluate)
        if isNull parameters then nullArg (nameof parameters)
        if parameters.Length = 0 then invalidArg (nameof parameters) "LBFGS needs at least one parameter."
        if parameters |> Array.exists (fun p -> isNull (box p) || isNull p.Data) then
            invalidArg (nameof parameters) "A parameter is null."
        if isNull (box state) then nullArg (nameof state)
        let o = LbfgsOptions.validate options
        let n = parameters |> Array.sumBy (fun p -> p.Data.Length)
        LbfgsState.check n state
        let maxEval = LbfgsOptions.maxEval o
        let toleranceGrad = float32 o.ToleranceGrad
        let toleranceChange = float32 o.ToleranceChange
        let evaluateAt (x: float32[]) =
            let result = evaluate (unflatten parameters x)
            if isNull (box result) then invalidArg (nameof evaluate) "The evaluation function returned null."
            let loss, grads = result
            struct (loss, gather parameters n grads)
        let mutable x = flatten parameters
        let struct (origLoss, g0) = evaluateAt x
        let mutable flatGrad = g0
        let mutable loss = float origLoss
        let mutable currentEvals = 1
        let mutable funcEvals = state.FuncEvals + 1L
        let mutable stateIter = state.NIter
        if Flat.absMax flatGrad <= toleranceGrad then
            unflatten parameters x, { state with FuncEvals = funcEvals }, origLoss
        else
            let memory = state.Memory
            let mutable d = match memory with Some m -> m.D | None -> null
            let mutable t = match memory with Some m -> D m.T | None -> D 0.0
            let oldDirs = ResizeArray<float32[]>(match memory with Some m -> m.OldDirs | None -> [||])
            let oldStps = ResizeArray<float32[]>(match memory with Some m -> m.OldStps | None -> [||])
            let ro = ResizeArray<float32>(match memory with Some m -> m.Ro | None -> [||])
            let mutable hDiag = match memory with Some m -> m.HDiag | None -> 1.0f
            let mutable prevFlatGrad = match memory with Some m -> m.PrevFlatGrad | None -> null
            let mutable prevLoss = match memory with Some m -> m.PrevLoss | None -> 0.0
            let mutable nIter = 0
            let mutable running = true
            while running && nIter < o.MaxIter do
                nIter <- nIter + 1
                stateIter <- stateIter + 1L
                // the direction
                if stateIter = 1L then
                    d <- Array.map (fun v -> -v) flatGrad
                    oldDirs.Clear()
                    oldStps.Clear()
                    ro.Clear()
                    hDiag <- 1.0f
                else
                    let y = Array.map2 (fun a b -> a - b) flatGrad prevFlatGrad
                    let t32 = Num.single t
                    let s = Array.map (fun v -> v * t32) d
                    let ys = Flat.dot y s
                    if ys > 1e-10f then
                        while oldDirs.Count >= o.HistorySize do
                            oldDirs.RemoveAt 0
                            oldStps.RemoveAt 0
                            ro.RemoveAt 0
                        oldDirs.Add y
                        oldStps.Add s
                        ro.Add(1.0f / ys)
                        hDiag <- ys / Flat.dot y y
                    let numOld = oldDirs.Count
                    let al = Array.zeroCreate<float32> numOld
                    let q = Array.map (fun v -> -v) flatGrad
                    for i in numOld - 1 .. -1 .. 0 do
                        al.[i] <- Flat.dot oldStps.[i] q * ro.[i]
                        let a = -al.[i]
                        let yi = oldDirs.[i]
                        for j in 0 .. n - 1 do
                            q.[j] <- MathF.FusedMultiplyAdd(a, yi.[j], q.[j])
                    let r = Array.map (fun v -> v * hDiag) q
                    for i in 0 .. numOld - 1 do
                        let be = Flat.dot oldDirs.[i] r * ro.[i]
                        let c = al.[i] - be
                        let si = oldStps.[i]
                        for j in 0 .. n - 1 do
                            r.[j] <- MathF.FusedMultiplyAdd(c, si.[j], r.[j])
                    d <- r
                prevFlatGrad <- Array.copy flatGrad
                prevLoss <- loss
                // the step length
                t <-
                    if stateIter = 1L then
                        let inv = 1.0f / Flat.sum (Array.map MathF.Abs flatGrad)
                        // min(1., 1. / |g|_1) * lr: a tensor when the reciprocal is below 1, else the float 1.0
                        Num.mul (Num.pyMin (D 1.0) (F inv)) (D o.Lr)
                    else D o.Lr
                let gtd = Flat.dot flatGrad d
                if gtd > -toleranceChange then running <- false
                else
                    let mutable lsFuncEvals = 0
                    let mutable optCond = false
                    match o.LineSearch with
                    | LineSearch.StrongWolfe ->
                        let xInit = x
                        let dir = d
                        let trial (tt: Num) =
                            let struct (l, gr) = evaluateAt (Flat.addScaled xInit (Num.single tt) dir)
                            float l, gr
                        let struct (lsLoss, lsGrad, lsT, lsEvals) = StrongWolfe.search trial t d loss flatGrad gtd
                        loss <- lsLoss
                        flatGrad <- lsGrad
                        t <- lsT
                        lsFuncEvals <- lsEvals
                        x <- Flat.addScaled xInit (Num.single t) d
                        optCond <- Flat.absMax flatGrad <= toleranceGrad
                    | LineSearch.None ->
                        x <- Flat.addScaled x (Num.single t) d
                        if nIter <> o.MaxIter then
                            let struct (l, gr) = evaluateAt x
                            loss <- float l
                            flatGrad <- gr
                            optCond <- Flat.absMax flatGrad <= toleranceGrad
                            lsFuncEvals <- 1
                    currentEvals <- currentEvals + lsFuncEvals
                    funcEvals <- funcEvals + int64 lsFuncEvals
                    let t32 = Num.single t
                    if nIter = o.MaxIter then running <- false
                    elif currentEvals >= maxEval then running <- false
                    elif optCond then running <- false
                    elif Flat.absMax (Array.map (fun v -> v * t32) d) <= toleranceChange then running <- false
                    elif Math.Abs(loss - prevLoss) < o.ToleranceChange then running <- false
            let newMemory =
                { D = d; T = Num.value t; OldDirs = oldDirs.ToArray(); OldStps = oldStps.ToArray(); Ro = ro.ToArray()
                  HDiag = hDiag; PrevFlatGrad = prevFlatGrad; PrevLoss = prevLoss }
            unflatten parameters x, { FuncEvals = funcEvals; NIter = stateIter; Memory = Some newMemory }, origLoss

/// <summary>
/// A snapshot of an LBFGS optimizer: the checkpoint's kind (<c>"LBFGS"</c>), param group, parameter names and shapes
/// (its <c>State</c> holds no buffers), and LBFGS's global state.
/// </summary>
type LbfgsCheckpoint =
    { /// <summary>Kind, param groups, names and shapes, as for every optimizer; its <c>State</c> is empty.</summary>
      Checkpoint: Checkpoint
      /// <summary>The LBFGS state.</summary>
      Lbfgs: LbfgsState }

/// <summary>
/// JSON conversion of <see cref="T:Optim.LbfgsCheckpoint"/>. The layout is the one of every optimizer (see
/// <see cref="T:Optim.CheckpointModule"/>) except <c>"state"</c>: as PyTorch files LBFGS's global state under its
/// first parameter, it holds at most the entry <c>"0"</c> with <c>func_evals</c> and <c>n_iter</c> (whole numbers) and,
/// once LBFGS has iterated, <c>d</c> and <c>prev_flat_grad</c> (flat vectors over all parameters), <c>old_dirs</c> and
/// <c>old_stps</c> (lists of such vectors, oldest first), <c>ro</c> (a list of numbers), <c>t</c>, <c>H_diag</c> and
/// <c>prev_loss</c> (numbers). PyTorch's scratch list <c>al</c> is not state and is not written. A fresh optimizer has
/// <c>"state": {}</c>. Floats round-trip exactly; NaN and infinities are the strings <c>"NaN"</c>, <c>"Infinity"</c>,
/// <c>"-Infinity"</c>.
/// </summary>
[<RequireQualifiedAccess>]
module LbfgsCheckpoint =

    /// <summary>The optimizer kind LBFGS checkpoints carry.</summary>
    [<Literal>]
    let Kind = "LBFGS"

    let private fail msg = raise (CheckpointException msg)

    let private writeVector (w: Utf8JsonWriter) (v: float32[]) =
        w.WriteStartArray()
        for x in v do Checkpoint.writeSingle w x
        w.WriteEndArray()

    let private stateJson (s: LbfgsState) =
        use ms = new IO.MemoryStream()
        (
            use w = new Utf8JsonWriter(ms)
            w.WriteStartObject()
            if s.FuncEvals > 0L || s.NIter > 0L || s.Memory.IsSome then
                w.WriteStartObject "0"
                w.WriteNumber("func_evals", s.FuncEvals)
                w.WriteNumber("n_iter", s.NIter)
                match s.Memory with
                | Some m ->
                    w.WritePropertyName "d"; writeVector w m.D
                    w.WritePropertyName "t"; Checkpoint.writeFloat w m.T
                    w.WriteStartArray "old_dirs"
                    for v in m.OldDirs do writeVector w v
                    w.WriteEndArray()
                    w.WriteStartArray "old_stps"
                    for v in m.OldStps do writeVector w v
                    w.WriteEndArray()
                    w.WritePropertyName "ro"; writeVector w m.Ro
                    w.WritePropertyName "H_diag"; Checkpoint.writeSingle w m.HDiag
                    w.WritePropertyName "prev_flat_grad"; writeVector w m.PrevFlatGrad
                    w.WritePropertyName "prev_loss"; Checkpoint.writeFloat w m.PrevLoss
                | None -> ()
                w.WriteEndObject()
            w.WriteEndObject()
        )
        Text.Encoding.UTF8.GetString(ms.ToArray())

    /// <summary>Writes an LBFGS checkpoint as JSON (the layout is described on the module).</summary>
    /// <param name="c">The checkpoint.</param>
    /// <returns>The JSON text.</returns>
    let toJson (c: LbfgsCheckpoint) : string =
        let generic = Checkpoint.toJson { c.Checkpoint with State = State.empty c.Checkpoint.Shapes.Length }
        let root = JsonNode.Parse(generic).AsObject()
        root.["state"] <- JsonNode.Parse(stateJson c.Lbfgs)
        root.ToJsonString()

    let private readCount (where: string) (e: JsonElement) =
        let v = Checkpoint.readFloat where e
        if not (v >= 0.0 && v = Math.Floor v && v < 9e18) then fail $"Malformed state dict: {where} must be a whole number of 0 or more, but is {e.GetRawText()}."
        int64 v

    let private readVector (where: string) (n: int) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Array then fail $"Malformed state dict: {where} must be an array."
        let v = [| for x in e.EnumerateArray() -> float32 (Checkpoint.readFloat where x) |]
        if v.Length <> n then fail $"Malformed state dict: {where} has {v.Length} elements, but the parameters have {n} in all."
        v

    let private readVectors (where: string) (n: int) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Array then fail $"Malformed state dict: {where} must be an array of vectors."
        [| for i, x in Seq.indexed (e.EnumerateArray()) -> readVector $"{where}[{i}]" n x |]

    let private memoryKeys = [ "d"; "t"; "old_dirs"; "old_stps"; "ro"; "H_diag"; "prev_flat_grad"; "prev_loss" ]

    let private listed (keys: string list) = String.Join(", ", keys)

    let private readState (n: int) (state: JsonElement) : LbfgsState =
        if state.ValueKind <> JsonValueKind.Object then fail "Malformed state dict: 'state' must be an object."
        let entries = [ for p in state.EnumerateObject() -> p ]
        match entries with
        | [] -> LbfgsState.initial
        | [ entry ] when entry.Name = "0" ->
            let e = entry.Value
            if e.ValueKind <> JsonValueKind.Object then fail "Malformed state dict: state[0] must be an object."
            for p in e.EnumerateObject() do
                if p.Name <> "func_evals" && p.Name <> "n_iter" && not (List.contains p.Name memoryKeys) then
                    fail $"Malformed state dict: state[0] holds '{p.Name}', which LBFGS does not keep (it keeps func_evals, n_iter, {listed memoryKeys})."
            let field (name: string) =
                match e.TryGetProperty name with
                | true, v -> Some v
                | _ -> None
            let required name =
                match field name with
                | Some v -> v
                | None -> fail $"Malformed state dict: state[0] has no '{name}'."
            let present = memoryKeys |> List.filter (fun k -> (field k).IsSome)
            let memory =
                if present.IsEmpty then None
                elif present.Length < memoryKeys.Length then
                    let missing = memoryKeys |> List.filter (fun k -> not (List.contains k present))
                    fail $"Malformed state dict: state[0] holds {listed present} but not {listed missing}; LBFGS keeps all of them or none."
                else
                    let oldDirs = readVectors "state[0].old_dirs" n (required "old_dirs")
                    let oldStps = readVectors "state[0].old_stps" n (required "old_stps")
                    let ro =
                        let r = required "ro"
                        if r.ValueKind <> JsonValueKind.Array then fail "Malformed state dict: state[0].ro must be an array."
                        [| for x in r.EnumerateArray() -> float32 (Checkpoint.readFloat "state[0].ro" x) |]
                    if oldDirs.Length <> oldStps.Length || oldDirs.Length <> ro.Length then
                        fail $"Malformed state dict: state[0] holds {oldDirs.Length} old_dirs, {oldStps.Length} old_stps and {ro.Length} ro; they must be as many."
                    Some
                        { D = readVector "state[0].d" n (required "d")
                          T = Checkpoint.readFloat "state[0].t" (required "t")
                          OldDirs = oldDirs
                          OldStps = oldStps
                          Ro = ro
                          HDiag = float32 (Checkpoint.readFloat "state[0].H_diag" (required "H_diag"))
                          PrevFlatGrad = readVector "state[0].prev_flat_grad" n (required "prev_flat_grad")
                          PrevLoss = Checkpoint.readFloat "state[0].prev_loss" (required "prev_loss") }
            let funcEvals = readCount "state[0].func_evals" (required "func_evals")
            let nIter = readCount "state[0].n_iter" (required "n_iter")
            if nIter > 0L && memory.IsNone then
                fail $"Malformed state dict: state[0] counts {nIter} iterations (n_iter) but holds none of {listed memoryKeys}."
            { FuncEvals = funcEvals; NIter = nIter; Memory = memory }
        | _ ->
            let keys = entries |> List.map (fun p -> "'" + p.Name + "'") |> listed
            fail $"Malformed state dict: an LBFGS state has at most the entry '0' (its first parameter), but it has {keys}."

    /// <summary>
    /// Reads an LBFGS checkpoint from JSON written by <see cref="M:Optim.LbfgsCheckpointModule.toJson(Optim.LbfgsCheckpoint)"/>,
    /// or says that the text is not one (so that it can be read as another optimizer's).
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <returns><c>None</c> when the text is not a JSON object whose <c>"optimizer"</c> is <c>"LBFGS"</c>; else the checkpoint.</returns>
    /// <exception cref="T:Optim.CheckpointException">The text is an LBFGS state dict but malformed (the message says where),
    /// e.g. a vector whose length is not the parameters' total element count.</exception>
    let tryOfJson (json: string) : LbfgsCheckpoint option =
        if isNull json then nullArg (nameof json)
        let doc = try Some(JsonDocument.Parse json) with :? JsonException -> None
        match doc with
        | None -> None
        | Some doc ->
            use doc = doc
            let root = doc.RootElement
            let isLbfgs =
                root.ValueKind = JsonValueKind.Object
                && (match root.TryGetProperty "optimizer" with
                    | true, k -> k.ValueKind = JsonValueKind.String && k.GetString() = Kind
                    | _ -> false)
            if not isLbfgs then None
            else
                let state =
                    match root.TryGetProperty "state" with
                    | true, s -> s
                    | _ -> fail "Malformed state dict: the document has no 'state'."
                let rest = JsonNode.Parse(json).AsObject()
                rest.["state"] <- JsonObject()
                let generic = Checkpoint.ofJson (rest.ToJsonString())
                let n = generic.Shapes |> Array.sumBy Tensor.numel
                Some { Checkpoint = generic; Lbfgs = readState n state }

    /// <summary>Reads an LBFGS checkpoint from JSON written by <see cref="M:Optim.LbfgsCheckpointModule.toJson(Optim.LbfgsCheckpoint)"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="T:Optim.CheckpointException">The text is not JSON, not a state dict, from another optimizer, or malformed.</exception>
    let ofJson (json: string) : LbfgsCheckpoint =
        match tryOfJson json with
        | Some c -> c
        | None ->
            let kind = (Checkpoint.ofJson json).Kind
            fail $"This state dict is from a {kind} optimizer, not an LBFGS one."
