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

/// The verification kit's generator (Optim.Testing.Generators.sgdOptions).
let sgdOptions : Gen<SgdOptions> = Optim.Testing.Generators.sgdOptions

/// The verification kit's generator (Optim.Testing.Generators.adamOptions).
let adamOptions : Gen<AdamOptions> = Optim.Testing.Generators.adamOptions

/// The verification kit's generator (Optim.Testing.Generators.adagradOptions).
let adagradOptions : Gen<AdagradOptions> = Optim.Testing.Generators.adagradOptions

/// The verification kit's generator (Optim.Testing.Generators.rmspropOptions).
let rmspropOptions : Gen<RmspropOptions> = Optim.Testing.Generators.rmspropOptions

/// The verification kit's generator (Optim.Testing.Generators.adadeltaOptions).
let adadeltaOptions : Gen<AdadeltaOptions> = Optim.Testing.Generators.adadeltaOptions

/// The verification kit's generator (Optim.Testing.Generators.adamaxOptions).
let adamaxOptions : Gen<AdamaxOptions> = Optim.Testing.Generators.adamaxOptions

/// The verification kit's generator (Optim.Testing.Generators.nadamOptions).
let nadamOptions : Gen<NadamOptions> = Optim.Testing.Generators.nadamOptions

/// The verification kit's generator (Optim.Testing.Generators.radamOptions).
let radamOptions : Gen<RadamOptions> = Optim.Testing.Generators.radamOptions

/// The verification kit's generator (Optim.Testing.Generators.asgdOptions).
let asgdOptions : Gen<AsgdOptions> = Optim.Testing.Generators.asgdOptions

/// The verification kit's generator (Optim.Testing.Generators.rpropOptions).
let rpropOptions : Gen<RpropOptions> = Optim.Testing.Generators.rpropOptions

/// The verification kit's generator (Optim.Testing.Generators.lionOptions).
let lionOptions : Gen<LionOptions> = Optim.Testing.Generators.lionOptions

/// The verification kit's generator (Optim.Testing.Generators.lambOptions).
let lambOptions : Gen<LambOptions> = Optim.Testing.Generators.lambOptions

/// The verification kit's generator (Optim.Testing.Generators.adafactorOptions).
let adafactorOptions : Gen<AdafactorOptions> = Optim.Testing.Generators.adafactorOptions

/// The verification kit's matrices (Optim.Testing.Generators.matrices): Muon's parameters.
let matrices : Gen<Tensor[]> = Optim.Testing.Generators.matrices

/// The verification kit's generator (Optim.Testing.Generators.muonOptions).
let muonOptions : Gen<MuonOptions> = Optim.Testing.Generators.muonOptions

/// The verification kit's generator (Optim.Testing.Generators.scheduleFreeSgdOptions).
let scheduleFreeSgdOptions : Gen<ScheduleFreeSgdOptions> = Optim.Testing.Generators.scheduleFreeSgdOptions

/// The verification kit's generator (Optim.Testing.Generators.scheduleFreeAdamWOptions).
let scheduleFreeAdamWOptions : Gen<ScheduleFreeAdamWOptions> = Optim.Testing.Generators.scheduleFreeAdamWOptions

/// Expecto's FsCheck configuration with `maxTests` cases (sizes 1 to 100, a fresh seed each run, as FsCheck's own).
let config (maxTests: int) = { FsCheckConfig.defaultConfig with maxTest = maxTests }

/// An Expecto test of a property over `maxTests` generated cases; a failure reports the seed that replays it.
let property (name: string) (maxTests: int) (property: Property) = testPropertyWithConfig (config maxTests) name property

/// Elementwise closeness within the SPEC's parity tolerance: |a - b| ≤ atol + rtol·|b|.
let close (atol: float) (rtol: float) (a: float32[]) (b: float32[]) =
    a.Length = b.Length
    && Array.forall2 (fun (x: float32) (y: float32) -> abs (float x - float y) <= atol + rtol * abs (float y) || (System.Single.IsNaN x && System.Single.IsNaN y)) a b
