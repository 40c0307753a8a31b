namespace Optim.Testing

open FsCheck.FSharp
open Optim

/// <summary>
/// Every built-in optimizer of Optim.Core as a <see cref="T:Optim.Testing.Subject`1"/>: generated hyperparameters
/// covering every flag (<see cref="T:Optim.Testing.Generators"/>), the fused optimizer, its chain of blocks, its maximize
/// option, and hyperparameters that converge on a quadratic. Use one as the reference of the composition law for a port
/// that claims to be that optimizer: <c>Laws.composition config Builtins.adam.Build mySubject</c>.
/// </summary>
[<RequireQualifiedAccess>]
module Builtins =

    let private subject name options (fused: 'o -> Optimizer) transform maximize tuned steps =
        { Name = name; Options = options; Build = fused; Transform = Some transform; Maximize = Some maximize; Tuned = Some(tuned, steps); Parameters = None }

    /// <summary>SGD (<c>torch.optim.SGD</c>): momentum, dampening, Nesterov, weight decay, maximize.</summary>
    let sgd : Subject<SgdOptions> =
        subject "SGD" Generators.sgdOptions Fused.sgd Alias.sgd (fun o m -> { o with Maximize = m }) { SgdOptions.create 0.1 with Momentum = 0.9 } 200

    /// <summary>Adam (<c>torch.optim.Adam</c>): coupled weight decay, AMSGrad, maximize.</summary>
    let adam : Subject<AdamOptions> =
        subject "Adam" Generators.adamOptions Fused.adam Alias.adam (fun o m -> { o with Maximize = m }) { AdamOptions.adam with Lr = 0.05 } 400

    /// <summary>AdamW (<c>torch.optim.AdamW</c>): decoupled weight decay, AMSGrad, maximize.</summary>
    let adamw : Subject<AdamOptions> =
        subject "AdamW" Generators.adamOptions Fused.adamw Alias.adamw (fun o m -> { o with Maximize = m }) { AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 } 400

    /// <summary>Adagrad (<c>torch.optim.Adagrad</c>).</summary>
    let adagrad : Subject<AdagradOptions> =
        subject "Adagrad" Generators.adagradOptions Fused.adagrad Alias.adagrad (fun o m -> { o with Maximize = m }) { AdagradOptions.defaults with Lr = 0.5 } 400

    /// <summary>RMSprop (<c>torch.optim.RMSprop</c>): plain and centered, with momentum.</summary>
    let rmsprop : Subject<RmspropOptions> =
        subject "RMSprop" Generators.rmspropOptions Fused.rmsprop Alias.rmsprop (fun o m -> { o with Maximize = m })
            { RmspropOptions.defaults with Lr = 0.01; Centered = true; Momentum = 0.5 } 400

    /// <summary>Adadelta (<c>torch.optim.Adadelta</c>).</summary>
    let adadelta : Subject<AdadeltaOptions> =
        subject "Adadelta" Generators.adadeltaOptions Fused.adadelta Alias.adadelta (fun o m -> { o with Maximize = m }) { AdadeltaOptions.defaults with Eps = 1e-2 } 400

    /// <summary>Adamax (<c>torch.optim.Adamax</c>).</summary>
    let adamax : Subject<AdamaxOptions> =
        subject "Adamax" Generators.adamaxOptions Fused.adamax Alias.adamax (fun o m -> { o with Maximize = m }) { AdamaxOptions.defaults with Lr = 0.05 } 400

    /// <summary>NAdam (<c>torch.optim.NAdam</c>), with coupled or decoupled weight decay.</summary>
    let nadam : Subject<NadamOptions> =
        subject "NAdam" Generators.nadamOptions Fused.nadam Alias.nadam (fun o m -> { o with Maximize = m }) { NadamOptions.defaults with Lr = 0.05 } 400

    /// <summary>RAdam (<c>torch.optim.RAdam</c>), with coupled or decoupled weight decay.</summary>
    let radam : Subject<RadamOptions> =
        subject "RAdam" Generators.radamOptions Fused.radam Alias.radam (fun o m -> { o with Maximize = m }) { RadamOptions.defaults with Lr = 0.05 } 400

    /// <summary>ASGD (<c>torch.optim.ASGD</c>), with small t₀ that start the averaging within a case.</summary>
    let asgd : Subject<AsgdOptions> =
        subject "ASGD" Generators.asgdOptions Fused.asgd Alias.asgd (fun o m -> { o with Maximize = m }) { AsgdOptions.defaults with Lr = 0.1 } 200

    /// <summary>Rprop (<c>torch.optim.Rprop</c>), with step-size ranges that clamp.</summary>
    let rprop : Subject<RpropOptions> =
        subject "Rprop" Generators.rpropOptions Fused.rprop Alias.rprop (fun o m -> { o with Maximize = m }) RpropOptions.defaults 200

    /// <summary>
    /// Adafactor (PyTorch 2.x's <c>torch.optim.Adafactor</c>). Its chain reduces over whole parameters, so it equals its
    /// fused kernel within float32 rounding, not bit for bit: run its composition law with a tolerance.
    /// </summary>
    let adafactor : Subject<AdafactorOptions> =
        subject "Adafactor" Generators.adafactorOptions Fused.adafactor Alias.adafactor (fun o m -> { o with Maximize = m })
            { AdafactorOptions.defaults with Lr = 0.1 } 400

    /// <summary>
    /// Lion (Chen et al., 2023). Its steps have a fixed length, so its tuned form decays the learning rate, as it is used.
    /// </summary>
    let lion : Subject<LionOptions> =
        { Name = "Lion"; Options = Generators.lionOptions; Build = Alias.lion >> Optimizer.ofTransform; Transform = Some Alias.lion
          Maximize = Some(fun o m -> { o with Maximize = m }); Tuned = None; Parameters = None }

    /// <summary>LAMB (You et al., 2020).</summary>
    let lamb : Subject<LambOptions> =
        { Name = "LAMB"; Options = Generators.lambOptions; Build = Alias.lamb >> Optimizer.ofTransform; Transform = Some Alias.lamb
          Maximize = Some(fun o m -> { o with Maximize = m }); Tuned = None; Parameters = None }

    /// <summary>
    /// Muon (PyTorch 2.9's <c>torch.optim.Muon</c>) on matrices (<see cref="P:Optim.Testing.Generators.matrices"/>), its
    /// only parameters. It has no <c>maximize</c>, as in PyTorch; its tuned form decays the learning rate, as Muon's
    /// orthogonalised steps have a fixed size.
    /// </summary>
    let muon : Subject<MuonOptions> =
        { Name = "Muon"; Options = Generators.muonOptions; Build = Fused.muon; Transform = Some Alias.muon; Maximize = None
          Tuned = None; Parameters = Some Generators.matrices }

    /// <summary>
    /// <c>Alias.muonWithAdamW</c>: Muon on every 2-D parameter, AdamW on the others, over parameters of any shape. No
    /// maximize law: Muon has none.
    /// </summary>
    let muonWithAdamW : Subject<struct (MuonOptions * AdamOptions)> =
        { Name = "muonWithAdamW"
          Options = Gen.map2 (fun m a -> struct (m, a)) Generators.muonOptions Generators.adamOptions
          Build = (fun (struct (m, a)) -> Optimizer.ofTransform (Alias.muonWithAdamW m a))
          Transform = Some(fun (struct (m, a)) -> Alias.muonWithAdamW m a)
          Maximize = None
          Tuned = None
          Parameters = None }
