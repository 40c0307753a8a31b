/// Every hyperparameter of every optimizer is validated when the optimizer is built, naming the argument.
module Optim.Tests.OptionsTests

open System
open Expecto
open Optim

/// (expected ParamName, a build of the alias and of the fused optimizer with one bad value; Lion and LAMB
/// have no fused kernel, so their alias is built twice).
let private cases : (string * (unit -> obj) * (unit -> obj)) list =
    let adagrad (o: AdagradOptions) = (fun () -> box (Alias.adagrad o)), (fun () -> box (Fused.adagrad o))
    let rmsprop (o: RmspropOptions) = (fun () -> box (Alias.rmsprop o)), (fun () -> box (Fused.rmsprop o))
    let adadelta (o: AdadeltaOptions) = (fun () -> box (Alias.adadelta o)), (fun () -> box (Fused.adadelta o))
    let adamax (o: AdamaxOptions) = (fun () -> box (Alias.adamax o)), (fun () -> box (Fused.adamax o))
    let nadam (o: NadamOptions) = (fun () -> box (Alias.nadam o)), (fun () -> box (Fused.nadam o))
    let radam (o: RadamOptions) = (fun () -> box (Alias.radam o)), (fun () -> box (Fused.radam o))
    let asgd (o: AsgdOptions) = (fun () -> box (Alias.asgd o)), (fun () -> box (Fused.asgd o))
    let rprop (o: RpropOptions) = (fun () -> box (Alias.rprop o)), (fun () -> box (Fused.rprop o))
    let adafactor (o: AdafactorOptions) = (fun () -> box (Alias.adafactor o)), (fun () -> box (Fused.adafactor o))
    let lion (o: LionOptions) = (fun () -> box (Alias.lion o)), (fun () -> box (Alias.lion o))
    let lamb (o: LambOptions) = (fun () -> box (Alias.lamb o)), (fun () -> box (Alias.lamb o))
    [ "lr", adagrad { AdagradOptions.defaults with Lr = -1.0 }
      "lrDecay", adagrad { AdagradOptions.defaults with LrDecay = -0.1 }
      "weightDecay", adagrad { AdagradOptions.defaults with WeightDecay = nan }
      "initialAccumulatorValue", adagrad { AdagradOptions.defaults with InitialAccumulatorValue = -1.0 }
      "eps", adagrad { AdagradOptions.defaults with Eps = -1e-10 }
      "lr", rmsprop { RmspropOptions.defaults with Lr = infinity }
      "alpha", rmsprop { RmspropOptions.defaults with Alpha = -0.5 }
      "eps", rmsprop { RmspropOptions.defaults with Eps = -1.0 }
      "weightDecay", rmsprop { RmspropOptions.defaults with WeightDecay = -1.0 }
      "momentum", rmsprop { RmspropOptions.defaults with Momentum = -0.9 }
      "lr", adadelta { AdadeltaOptions.defaults with Lr = -1.0 }
      "rho", adadelta { AdadeltaOptions.defaults with Rho = 1.5 }
      "rho", adadelta { AdadeltaOptions.defaults with Rho = -0.1 }
      "eps", adadelta { AdadeltaOptions.defaults with Eps = nan }
      "weightDecay", adadelta { AdadeltaOptions.defaults with WeightDecay = -1.0 }
      "lr", adamax { AdamaxOptions.defaults with Lr = -1.0 }
      "betas", adamax { AdamaxOptions.defaults with Beta1 = 1.0 }
      "betas", adamax { AdamaxOptions.defaults with Beta2 = -0.1 }
      "eps", adamax { AdamaxOptions.defaults with Eps = -1.0 }
      "weightDecay", adamax { AdamaxOptions.defaults with WeightDecay = -1.0 }
      "lr", nadam { NadamOptions.defaults with Lr = -1.0 }
      "betas", nadam { NadamOptions.defaults with Beta1 = 1.0 }
      "betas", nadam { NadamOptions.defaults with Beta2 = nan }
      "eps", nadam { NadamOptions.defaults with Eps = -1.0 }
      "weightDecay", nadam { NadamOptions.defaults with WeightDecay = -1.0; DecoupledWeightDecay = true }
      "momentumDecay", nadam { NadamOptions.defaults with MomentumDecay = -4e-3 }
      "lr", radam { RadamOptions.defaults with Lr = -1.0 }
      "betas", radam { RadamOptions.defaults with Beta1 = -0.1 }
      "betas", radam { RadamOptions.defaults with Beta2 = 1.0 }
      "eps", radam { RadamOptions.defaults with Eps = infinity }
      "weightDecay", radam { RadamOptions.defaults with WeightDecay = -1.0 }
      "lr", asgd { AsgdOptions.defaults with Lr = -1.0 }
      "lambd", asgd { AsgdOptions.defaults with Lambd = -1e-4 }
      "alpha", asgd { AsgdOptions.defaults with Alpha = nan }
      "t0", asgd { AsgdOptions.defaults with T0 = -1.0 }
      "weightDecay", asgd { AsgdOptions.defaults with WeightDecay = -1.0 }
      "lr", rprop { RpropOptions.defaults with Lr = -1.0 }
      "etas", rprop { RpropOptions.defaults with EtaMinus = 0.0 }
      "etas", rprop { RpropOptions.defaults with EtaMinus = 1.0 }
      "etas", rprop { RpropOptions.defaults with EtaPlus = 1.0 }
      "etas", rprop { RpropOptions.defaults with EtaPlus = infinity }
      "stepSizes", rprop { RpropOptions.defaults with StepSizeMin = -1e-6 }
      "stepSizes", rprop { RpropOptions.defaults with StepSizeMax = nan }
      "stepSizes", rprop { RpropOptions.defaults with StepSizeMin = 1.0; StepSizeMax = 0.5 }
      "lr", adafactor { AdafactorOptions.defaults with Lr = -1.0 }
      "lr", adafactor { AdafactorOptions.defaults with Lr = nan }
      "beta2Decay", adafactor { AdafactorOptions.defaults with Beta2Decay = 0.5 }
      "beta2Decay", adafactor { AdafactorOptions.defaults with Beta2Decay = -infinity }
      "eps", adafactor { AdafactorOptions.defaults with Eps1 = ValueSome -1e-30 }
      "eps", adafactor { AdafactorOptions.defaults with Eps1 = ValueSome nan }
      "eps", adafactor { AdafactorOptions.defaults with Eps2 = -1e-3 }
      "d", adafactor { AdafactorOptions.defaults with D = 0.999 }
      "d", adafactor { AdafactorOptions.defaults with D = infinity }
      "weightDecay", adafactor { AdafactorOptions.defaults with WeightDecay = -1e-2 }
      "lr", lion { LionOptions.defaults with Lr = -1.0 }
      "betas", lion { LionOptions.defaults with Beta1 = 1.5 }
      "betas", lion { LionOptions.defaults with Beta2 = 1.0 }
      "weightDecay", lion { LionOptions.defaults with WeightDecay = nan }
      "lr", lamb { LambOptions.defaults with Lr = -1.0 }
      "betas", lamb { LambOptions.defaults with Beta1 = 1.0 }
      "betas", lamb { LambOptions.defaults with Beta2 = -0.5 }
      "eps", lamb { LambOptions.defaults with Eps = -1e-6 }
      "weightDecay", lamb { LambOptions.defaults with WeightDecay = -1.0 } ]
    |> List.map (fun (name, (alias, fused)) -> name, alias, fused)

let tests =
    testList "OptionsTests" [
        testCase "every invalid hyperparameter is rejected by the alias and the fused kernel, naming the argument and the value" <| fun () ->
            for name, alias, fused in cases do
                for build in [ alias; fused ] do
                    let e = Assert.ThrowsAny<ArgumentException>(fun () -> build () |> ignore)
                    Assert.Equal(name, e.ParamName)

        testCase "PyTorch's defaults are valid and are the documented values" <| fun () ->
            AdagradOptions.validate AdagradOptions.defaults |> ignore
            RmspropOptions.validate RmspropOptions.defaults |> ignore
            AdadeltaOptions.validate AdadeltaOptions.defaults |> ignore
            AdamaxOptions.validate AdamaxOptions.defaults |> ignore
            NadamOptions.validate NadamOptions.defaults |> ignore
            RadamOptions.validate RadamOptions.defaults |> ignore
            AsgdOptions.validate AsgdOptions.defaults |> ignore
            RpropOptions.validate RpropOptions.defaults |> ignore
            AdafactorOptions.validate AdafactorOptions.defaults |> ignore
            Assert.Equal(1e-10, AdagradOptions.defaults.Eps)
            Assert.Equal(0.99, RmspropOptions.defaults.Alpha)
            Assert.Equal(1.0, AdadeltaOptions.defaults.Lr)
            Assert.Equal(2e-3, AdamaxOptions.defaults.Lr)
            Assert.Equal(4e-3, NadamOptions.defaults.MomentumDecay)
            Assert.Equal(1e-3, RadamOptions.defaults.Lr)
            Assert.Equal(1e6, AsgdOptions.defaults.T0)
            Assert.Equal(50.0, RpropOptions.defaults.StepSizeMax)
            Assert.Equal(1e-2, AdafactorOptions.defaults.Lr)
            Assert.Equal(-0.8, AdafactorOptions.defaults.Beta2Decay)
            Assert.Equal(ValueNone, AdafactorOptions.defaults.Eps1)
            Assert.Equal(1e-3, AdafactorOptions.defaults.Eps2)
            Assert.Equal(1.0, AdafactorOptions.defaults.D)
            // torch.finfo(float32).eps: the gap between 1 and the next float32
            Assert.Equal(float (MathF.BitIncrement 1.0f - 1.0f), AdafactorOptions.float32Eps)
    ]
