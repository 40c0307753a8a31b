/// FsCheck generators shared by the law tests: parameters, gradients and hyperparameters.
module Optim.Tests.Gen

open Expecto
open FsCheck
open FsCheck.FSharp
open Optim

let private float32In (lo: float) (hi: float) =
    Gen.choose (0, 1_000_000) |> Gen.map (fun k -> float32 (lo + (hi - lo) * float k / 1e6))

/// A shape of 1 to 3 dimensions whose element count is 1..40 (odd counts exercise the SIMD tails).
let shape : Gen<int[]> =
    gen {
        let! dims = Gen.choose (1, 3)
        let! ds = Gen.listOfLength dims (Gen.choose (1, 5))
        let! tail = Gen.choose (1, 9)
        return Array.ofList (if dims = 1 then [ tail * List.head ds ] else ds)
    }

/// 1 to 4 parameters with values in [-2, 2].
let parameters : Gen<Tensor[]> =
    gen {
        let! n = Gen.choose (1, 4)
        let! shapes = Gen.arrayOfLength n shape
        let! datas = shapes |> Array.map (fun s -> Gen.arrayOfLength (Tensor.numel s) (float32In -2.0 2.0)) |> Gen.sequenceToArray
        return Array.map2 Tensor.create shapes datas
    }

/// A gradient for each parameter, some of them null (no gradient) when `allowNull`.
let gradsFor (allowNull: bool) (ps: Tensor[]) : Gen<float32[][]> =
    ps
    |> Array.map (fun p ->
        gen {
            let! missing = if allowNull then Gen.frequency [ 1, Gen.constant true; 4, Gen.constant false ] else Gen.constant false
            let! scale = Gen.elements [ 0.0; 0.01; 1.0; 10.0 ]
            let! g = Gen.arrayOfLength p.Data.Length (float32In (-scale) scale)
            return if missing then null else g
        })
    |> Gen.sequenceToArray

/// A sequence of `steps` gradient sets for the parameters.
let gradSeq (allowNull: bool) (steps: int) (ps: Tensor[]) = Gen.listOfLength steps (gradsFor allowNull ps)

/// SGD options covering every flag.
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

/// Adam/AdamW options covering every flag.
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

/// Adagrad options covering every flag.
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

/// RMSprop options covering every flag. Centered with α = 0 is left out: the variance of one sample is 0,
/// the step is d/ε, and PyTorch diverges as well.
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

/// Adadelta options covering every flag.
let adadeltaOptions : Gen<AdadeltaOptions> =
    gen {
        let! lr = Gen.elements [ 0.0; 0.5; 1.0; 2.0 ]
        let! rho = Gen.elements [ 0.0; 0.5; 0.9; 1.0 ]
        let! eps = Gen.elements [ 1e-6; 1e-4; 1e-2 ]
        let! wd = Gen.elements [ 0.0; 1e-2; 0.1 ]
        let! maximize = Gen.elements [ true; false ]
        return { Lr = lr; Rho = rho; Eps = eps; WeightDecay = wd; Maximize = maximize }
    }

/// Adamax options covering every flag. β₂ = 0 is left out: the step is then m / (|g| + ε), ill-conditioned
/// for small gradients, where float32 rounding differences grow without bound.
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

/// NAdam options covering every flag.
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

/// RAdam options covering every flag; β₂ = 0.5 and 0.6 keep the variance untractable (ρ∞ ≤ 4) forever.
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

/// ASGD options covering every flag; small t₀ start the averaging within the generated runs.
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

/// Rprop options covering every flag, including step-size ranges that clamp.
let rpropOptions : Gen<RpropOptions> =
    gen {
        let! lr = Gen.elements [ 0.0; 1e-2; 0.1 ]
        let! etaMinus = Gen.elements [ 0.1; 0.5; 0.9 ]
        let! etaPlus = Gen.elements [ 1.1; 1.2; 2.0 ]
        let! lo, hi = Gen.elements [ 1e-6, 50.0; 1e-3, 0.05; 0.0, 0.0; 0.02, 0.02 ]
        let! maximize = Gen.elements [ true; false ]
        return { Lr = lr; EtaMinus = etaMinus; EtaPlus = etaPlus; StepSizeMin = lo; StepSizeMax = hi; Maximize = maximize }
    }

/// Lion options covering every flag.
let lionOptions : Gen<LionOptions> =
    gen {
        let! lr = Gen.elements [ 0.0; 1e-4; 1e-2 ]
        let! b1 = Gen.elements [ 0.0; 0.9; 1.0 ]
        let! b2 = Gen.elements [ 0.0; 0.9; 0.99 ]
        let! wd = Gen.elements [ 0.0; 1e-2; 1.0 ]
        let! maximize = Gen.elements [ true; false ]
        return { Lr = lr; Beta1 = b1; Beta2 = b2; WeightDecay = wd; Maximize = maximize }
    }

/// LAMB options covering every flag.
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

/// Adafactor options covering every flag. ε₁ is never below 1e-6: PyTorch's update of an element whose second
/// moment is 0 (a first gradient of 0) is 0·rsqrt(max(0, ε₁²)), NaN once ε₁² rounds to 0 in float32.
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

/// 1 to 4 matrices (Muon's parameters): 1 to 6 rows by 1 to 7 columns (square, wide, tall, single rows and columns),
/// values in [-2, 2].
let matrices : Gen<Tensor[]> =
    gen {
        let! n = Gen.choose (1, 4)
        let! shapes = Gen.arrayOfLength n (Gen.map2 (fun r c -> [| r; c |]) (Gen.choose (1, 6)) (Gen.choose (1, 7)))
        let! datas = shapes |> Array.map (fun s -> Gen.arrayOfLength (Tensor.numel s) (float32In -2.0 2.0)) |> Gen.sequenceToArray
        return Array.map2 Tensor.create shapes datas
    }

/// Muon options covering every option: momentum 0 and Nesterov, other coefficients and step counts, a large eps, both
/// learning-rate adjustments.
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

/// Schedule-free SGD options covering warmup, the polynomial weighting and the learning-rate weighting.
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

/// Schedule-free AdamW options covering warmup, the polynomial weighting and the learning-rate weighting.
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

/// Expecto's FsCheck configuration with `maxTests` cases (sizes 1 to 100, a fresh seed each run, as FsCheck's own).
let config (maxTests: int) = { FsCheckConfig.defaultConfig with maxTest = maxTests }

/// An Expecto test of a property over `maxTests` generated cases; a failure reports the seed that replays it.
let property (name: string) (maxTests: int) (property: Property) = testPropertyWithConfig (config maxTests) name property

/// Elementwise closeness within the SPEC's parity tolerance: |a - b| ≤ atol + rtol·|b|.
let close (atol: float) (rtol: float) (a: float32[]) (b: float32[]) =
    a.Length = b.Length
    && Array.forall2 (fun (x: float32) (y: float32) -> abs (float x - float y) <= atol + rtol * abs (float y) || (System.Single.IsNaN x && System.Single.IsNaN y)) a b
