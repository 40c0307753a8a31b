namespace Optim.Testing

open System
open FsCheck
open FsCheck.FSharp
open Optim

/// <summary>
/// FsCheck generators of what an optimizer is fed: parameter sets of several shapes, gradients (some missing, some at
/// edge values), and valid hyperparameters for each built-in optimizer; plus <c>field</c> and <c>options</c> to build a
/// generator for the options of an optimizer of your own.
/// </summary>
[<RequireQualifiedAccess>]
module Generators =

    /// <summary>A float32 uniform in [lo, hi], on a grid of a million steps.</summary>
    /// <param name="lo">The least value.</param>
    /// <param name="hi">The greatest value.</param>
    let float32In (lo: float) (hi: float) : Gen<float32> =
        Gen.choose (0, 1_000_000) |> Gen.map (fun k -> float32 (lo + (hi - lo) * float k / 1e6))

    /// <summary>
    /// A shape of 1 to 3 dimensions whose element count is 1 to 45 (odd counts exercise the SIMD tails), and now and
    /// then a vector of 64 to 300 elements (longer than the chunks a hand-written loop may take).
    /// </summary>
    let shape : Gen<int[]> =
        let small =
            gen {
                let! dims = Gen.choose (1, 3)
                let! ds = Gen.listOfLength dims (Gen.choose (1, 5))
                let! tail = Gen.choose (1, 9)
                return Array.ofList (if dims = 1 then [ tail * List.head ds ] else ds)
            }
        let long = Gen.choose (64, 300) |> Gen.map (fun n -> [| n |])
        Gen.frequency [ 9, small; 1, long ]

    /// <summary>Values for a parameter of <paramref name="n"/> elements, in [-2, 2].</summary>
    /// <param name="n">The element count.</param>
    let values (n: int) : Gen<float32[]> = Gen.arrayOfLength n (float32In -2.0 2.0)

    /// <summary>
    /// 1 to 4 parameters with values in [-2, 2]; one set in three repeats the first shape for every parameter (a state
    /// buffer shared between parameters of one shape shows there).
    /// </summary>
    let parameters : Gen<Tensor[]> =
        gen {
            let! n = Gen.choose (1, 4)
            let! same = Gen.frequency [ 1, Gen.constant true; 2, Gen.constant false ]
            let! shapes = if same then shape |> Gen.map (Array.create n) else Gen.arrayOfLength n shape
            let! datas = shapes |> Array.map (fun s -> values (Tensor.numel s)) |> Gen.sequenceToArray
            return Array.map2 Tensor.create shapes datas
        }

    /// <summary>1 to 4 matrices (Muon's parameters): 1 to 6 rows by 1 to 7 columns (square, wide, tall, single rows and
    /// columns), values in [-2, 2].</summary>
    let matrices : Gen<Tensor[]> =
        gen {
            let! n = Gen.choose (1, 4)
            let! shapes = Gen.arrayOfLength n (Gen.map2 (fun r c -> [| r; c |]) (Gen.choose (1, 6)) (Gen.choose (1, 7)))
            let! datas = shapes |> Array.map (fun s -> values (Tensor.numel s)) |> Gen.sequenceToArray
            return Array.map2 Tensor.create shapes datas
        }

    /// <summary>
    /// A gradient of <paramref name="n"/> elements: mostly uniform in [-s, s] for s in {0.01, 1, 10}; sometimes an edge
    /// case: all zeros, one element set, values of magnitude 1e-6, or one value everywhere.
    /// </summary>
    /// <param name="n">The element count.</param>
    let gradient (n: int) : Gen<float32[]> =
        let uniform = gen { let! s = Gen.elements [ 0.01; 1.0; 10.0 ] in return! Gen.arrayOfLength n (float32In (-s) s) }
        let oneHot = gen { let! k = Gen.choose (0, n - 1) in let! v = float32In -1.0 1.0 in return Array.init n (fun j -> if j = k then v else 0.0f) }
        let constant = gen { let! v = Gen.elements [ -1.0f; 0.5f; 3.0f ] in return Array.create n v }
        Gen.frequency
            [ 12, uniform
              1, Gen.constant (Array.zeroCreate n)
              1, oneHot
              1, Gen.arrayOfLength n (float32In -1e-6 1e-6)
              1, constant ]

    /// <summary>A gradient for each parameter; when <paramref name="allowNull"/>, one in five is null (no gradient).</summary>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="ps">The parameters.</param>
    let gradsFor (allowNull: bool) (ps: Tensor[]) : Gen<float32[][]> =
        ps
        |> Array.map (fun p ->
            gen {
                let! missing = if allowNull then Gen.frequency [ 1, Gen.constant true; 4, Gen.constant false ] else Gen.constant false
                let! g = gradient p.Data.Length
                return if missing then null else g
            })
        |> Gen.sequenceToArray

    /// <summary>A sequence of <paramref name="steps"/> gradient sets for the parameters.</summary>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="steps">How many steps.</param>
    /// <param name="ps">The parameters.</param>
    let gradSeq (allowNull: bool) (steps: int) (ps: Tensor[]) : Gen<float32[][] list> = Gen.listOfLength steps (gradsFor allowNull ps)

    /// <summary>
    /// One field of an options generator: a value drawn from <paramref name="choices"/>, set by <paramref name="set"/>.
    /// Combine fields with <see cref="M:Optim.Testing.Generators.options``1"/>.
    /// </summary>
    /// <param name="choices">The values to draw from (at least one).</param>
    /// <param name="set">Sets the value in an options record.</param>
    /// <exception cref="T:System.ArgumentException">There are no choices.</exception>
    /// <example><c>Generators.field [ 0.0; 0.9 ] (fun o m -> { o with Momentum = m })</c></example>
    let field (choices: 'v list) (set: 'o -> 'v -> 'o) : Gen<'o -> 'o> =
        if List.isEmpty choices then invalidArg (nameof choices) "A field needs at least one value to choose from."
        if isNull (box set) then nullArg (nameof set)
        Gen.elements choices |> Gen.map (fun v o -> set o v)

    /// <summary>
    /// A generator of options for an optimizer of your own: <paramref name="start"/> with each field's drawn value set, in
    /// order (a later field sees the earlier ones' values). Filter what is invalid with <c>Gen.filter</c>.
    /// </summary>
    /// <param name="start">The options every field starts from (your defaults).</param>
    /// <param name="fields">The fields, from <see cref="M:Optim.Testing.Generators.field``2"/>.</param>
    /// <example>
    /// <code>
    /// let myOptions =
    ///     Generators.options MyOptions.defaults
    ///         [ Generators.field [ 1e-3; 0.1 ] (fun o lr -> { o with Lr = lr })
    ///           Generators.field [ true; false ] (fun o n -> { o with Nesterov = n }) ]
    /// </code>
    /// </example>
    let options (start: 'o) (fields: Gen<'o -> 'o> list) : Gen<'o> =
        fields |> List.fold (fun acc f -> gen { let! o = acc in let! set = f in return set o }) (Gen.constant start)

    /// <summary>SGD options covering every flag.</summary>
    let sgdOptions : Gen<SgdOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-3; 0.05; 0.5 ]
            let! momentum = Gen.elements [ 0.0; 0.5; 0.9 ]
            let! nesterov = if momentum > 0.0 then Gen.elements [ true; false ] else Gen.constant false
            let! dampening = if nesterov then Gen.constant 0.0 else Gen.elements [ 0.0; 0.1; 0.5 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Momentum = momentum; Dampening = dampening; WeightDecay = wd; Nesterov = nesterov; Maximize = maximize }
        }

    /// <summary>Adam/AdamW options covering every flag.</summary>
    let adamOptions : Gen<AdamOptions> =
        gen {
            let! lr = Gen.elements [ 1e-3; 1e-2; 0.1 ]
            let! b1 = Gen.elements [ 0.0; 0.8; 0.9 ]
            let! b2 = Gen.elements [ 0.9; 0.99; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! amsgrad = Gen.elements [ true; false ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; Amsgrad = amsgrad; Maximize = maximize }
        }

    /// <summary>Adagrad options covering every flag.</summary>
    let adagradOptions : Gen<AdagradOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-2; 0.1; 0.5 ]
            let! lrDecay = Gen.elements [ 0.0; 1e-2; 0.5 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! init = Gen.elements [ 0.0; 0.1; 1.0 ]
            let! eps = Gen.elements [ 1e-10; 1e-6; 1e-3 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; LrDecay = lrDecay; WeightDecay = wd; InitialAccumulatorValue = init; Eps = eps; Maximize = maximize }
        }

    /// <summary>RMSprop options covering every flag. Centered with α = 0 is left out: the variance of one sample is 0, the step is d/ε, and PyTorch diverges as well.</summary>
    let rmspropOptions : Gen<RmspropOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-3; 1e-2; 0.1 ]
            let! centered = Gen.elements [ true; false ]
            let! alpha = Gen.elements [ (if centered then 0.5 else 0.0); 0.5; 0.9; 0.99 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! momentum = Gen.elements [ 0.0; 0.5; 0.9 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Alpha = alpha; Eps = eps; WeightDecay = wd; Momentum = momentum; Centered = centered; Maximize = maximize }
        }

    /// <summary>Adadelta options covering every flag.</summary>
    let adadeltaOptions : Gen<AdadeltaOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 0.5; 1.0; 2.0 ]
            let! rho = Gen.elements [ 0.0; 0.5; 0.9; 1.0 ]
            let! eps = Gen.elements [ 1e-6; 1e-4; 1e-2 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Rho = rho; Eps = eps; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>Adamax options covering every flag. β₂ = 0 is left out: the step is then m / (|g| + ε), ill-conditioned for small gradients, where float32 rounding differences grow without bound.</summary>
    let adamaxOptions : Gen<AdamaxOptions> =
        gen {
            let! lr = Gen.elements [ 2e-3; 1e-2; 0.1 ]
            let! b1 = Gen.elements [ 0.0; 0.8; 0.9 ]
            let! b2 = Gen.elements [ 0.5; 0.9; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>NAdam options covering every flag.</summary>
    let nadamOptions : Gen<NadamOptions> =
        gen {
            let! lr = Gen.elements [ 2e-3; 1e-2; 0.1 ]
            let! b1 = Gen.elements [ 0.0; 0.8; 0.9 ]
            let! b2 = Gen.elements [ 0.9; 0.99; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! psi = Gen.elements [ 0.0; 4e-3; 0.1 ]
            let! decoupled = Gen.elements [ true; false ]
            let! maximize = Gen.elements [ true; false ]
            return
                { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; MomentumDecay = psi
                  DecoupledWeightDecay = decoupled; Maximize = maximize }
        }

    /// <summary>RAdam options covering every flag; β₂ = 0.5 and 0.6 keep the variance untractable (ρ∞ ≤ 4) forever.</summary>
    let radamOptions : Gen<RadamOptions> =
        gen {
            let! lr = Gen.elements [ 1e-3; 1e-2; 0.1 ]
            let! b1 = Gen.elements [ 0.0; 0.8; 0.9 ]
            let! b2 = Gen.elements [ 0.5; 0.6; 0.9; 0.99; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! decoupled = Gen.elements [ true; false ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; DecoupledWeightDecay = decoupled; Maximize = maximize }
        }

    /// <summary>ASGD options covering every flag; small t₀ start the averaging within the generated runs.</summary>
    let asgdOptions : Gen<AsgdOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! lambd = Gen.elements [ 0.0; 1e-4; 0.1 ]
            let! alpha = Gen.elements [ 0.0; 0.75; 1.0 ]
            let! t0 = Gen.elements [ 0.0; 1.0; 3.0; 1e6 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Lambd = lambd; Alpha = alpha; T0 = t0; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>Rprop options covering every flag, including step-size ranges that clamp.</summary>
    let rpropOptions : Gen<RpropOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! etaMinus = Gen.elements [ 0.1; 0.5; 0.9 ]
            let! etaPlus = Gen.elements [ 1.1; 1.2; 2.0 ]
            let! lo, hi = Gen.elements [ 1e-6, 50.0; 1e-3, 0.05; 0.0, 0.0; 0.02, 0.02 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; EtaMinus = etaMinus; EtaPlus = etaPlus; StepSizeMin = lo; StepSizeMax = hi; Maximize = maximize }
        }

    /// <summary>Lion options covering every flag.</summary>
    let lionOptions : Gen<LionOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-4; 1e-2 ]
            let! b1 = Gen.elements [ 0.0; 0.9; 1.0 ]
            let! b2 = Gen.elements [ 0.0; 0.9; 0.99 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 1.0 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta1 = b1; Beta2 = b2; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>LAMB options covering every flag.</summary>
    let lambOptions : Gen<LambOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-3; 1e-2 ]
            let! b1 = Gen.elements [ 0.0; 0.9 ]
            let! b2 = Gen.elements [ 0.9; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>Adafactor options covering every flag. ε₁ is never below 1e-6: PyTorch's update of an element whose second moment is 0 (a first gradient of 0) is 0·rsqrt(max(0, ε₁²)), NaN once ε₁² rounds to 0 in float32.</summary>
    let adafactorOptions : Gen<AdafactorOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! decay = Gen.elements [ 0.0; -0.5; -0.8; -1.0 ]
            let! eps1 = Gen.elements [ ValueNone; ValueSome 1e-6; ValueSome 1e-3 ]
            let! eps2 = Gen.elements [ 0.0; 1e-3; 0.1 ]
            let! d = Gen.elements [ 1.0; 1.5; 10.0 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! maximize = Gen.elements [ true; false ]
            return { Lr = lr; Beta2Decay = decay; Eps1 = eps1; Eps2 = eps2; D = d; WeightDecay = wd; Maximize = maximize }
        }

    /// <summary>Muon options (PyTorch 2.9's <c>torch.optim.Muon</c>) covering every option: momentum 0 and Nesterov, other
    /// coefficients and step counts, a large eps, both learning-rate adjustments, weight decay.</summary>
    let muonOptions : Gen<MuonOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-3; 0.02; 0.1 ]
            let! wd = Gen.elements [ 0.0; 0.1; 0.5 ]
            let! momentum = Gen.elements [ 0.0; 0.5; 0.95 ]
            let! nesterov = Gen.elements [ true; false ]
            let! coefficients = Gen.elements [ MuonOptions.defaults.NsCoefficients; struct (2.0, -1.5, 0.5); struct (1.5, -0.5, 0.0) ]
            let! eps = Gen.elements [ 1e-7; 1e-3; 0.5 ]
            let! steps = Gen.elements [ 1; 3; 5 ]
            let! adjust = Gen.elements [ MuonLrAdjustment.Original; MuonLrAdjustment.MatchRmsAdamW ]
            return
                { Lr = lr; WeightDecay = wd; Momentum = momentum; Nesterov = nesterov; NsCoefficients = coefficients; Eps = eps
                  NsSteps = steps; AdjustLrFn = adjust }
        }

    /// <summary>Schedule-free SGD options covering warmup, the polynomial weighting and the learning-rate weighting.</summary>
    let scheduleFreeSgdOptions : Gen<ScheduleFreeSgdOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-2; 0.1; 0.5 ]
            let! momentum = Gen.elements [ 0.5; 0.9; 0.99 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! warmup = Gen.elements [ 0; 1; 3 ]
            let! r = Gen.elements [ 0.0; 1.0; 2.0 ]
            let! power = Gen.elements [ 0.0; 1.0; 2.0 ]
            return { ScheduleFreeSgdOptions.defaults with Lr = lr; Momentum = momentum; WeightDecay = wd; WarmupSteps = warmup; R = r; WeightLrPower = power }
        }

    /// <summary>Schedule-free AdamW options covering warmup, the polynomial weighting and the learning-rate weighting.</summary>
    let scheduleFreeAdamWOptions : Gen<ScheduleFreeAdamWOptions> =
        gen {
            let! lr = Gen.elements [ 0.0; 1e-3; 1e-2; 0.1 ]
            let! b1 = Gen.elements [ 0.5; 0.9 ]
            let! b2 = Gen.elements [ 0.0; 0.9; 0.999 ]
            let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
            let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
            let! warmup = Gen.elements [ 0; 1; 3 ]
            let! r = Gen.elements [ 0.0; 1.0 ]
            let! power = Gen.elements [ 0.0; 2.0 ]
            return
                { ScheduleFreeAdamWOptions.defaults with
                    Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; WeightDecay = wd; WarmupSteps = warmup; R = r; WeightLrPower = power }
        }
