namespace Optim

open System

/// <summary>Hyperparameters of SGD, with PyTorch 1.13's names and meaning. A struct: building one allocates nothing.</summary>
[<Struct>]
type SgdOptions =
    { /// <summary>Learning rate (PyTorch <c>lr</c>, required).</summary>
      Lr: float
      /// <summary>Momentum factor (<c>momentum</c>, default 0).</summary>
      Momentum: float
      /// <summary>Dampening for momentum (<c>dampening</c>, default 0).</summary>
      Dampening: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Nesterov momentum (<c>nesterov</c>, default false); needs momentum &gt; 0 and dampening 0.</summary>
      Nesterov: bool
      /// <summary>Maximise the objective instead of minimising it (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.SgdOptions"/>.</summary>
[<RequireQualifiedAccess>]
module SgdOptions =

    /// <summary>PyTorch's defaults with the given learning rate.</summary>
    /// <param name="lr">The learning rate.</param>
    let create (lr: float) : SgdOptions =
        let d = Descriptors.sgd
        { Lr = lr; Momentum = d.Scalar "momentum"; Dampening = d.Scalar "dampening"; WeightDecay = d.Scalar "weight_decay"
          Nesterov = d.Flag "nesterov"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: SgdOptions) =
        FixedHypers([ "lr", o.Lr; "momentum", o.Momentum; "dampening", o.Dampening; "weight_decay", o.WeightDecay ], [],
                    [ "nesterov", o.Nesterov; "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.SGD</c> does, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    /// <exception cref="T:System.ArgumentException">Nesterov without momentum, or with dampening.</exception>
    let validate (o: SgdOptions) =
        Descriptors.sgd.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Adam and AdamW, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type AdamOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-3).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Weight decay (<c>weight_decay</c>): coupled L2 for Adam (default 0), decoupled for AdamW (default 1e-2).</summary>
      WeightDecay: float
      /// <summary>Use AMSGrad (<c>amsgrad</c>, default false).</summary>
      Amsgrad: bool
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AdamOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AdamOptions =

    let private ofDescriptor (d: Descriptor) : AdamOptions =
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"
          Amsgrad = d.Flag "amsgrad"; Maximize = d.Flag "maximize" }

    /// <summary>torch.optim.Adam's defaults.</summary>
    let adam : AdamOptions = ofDescriptor Descriptors.adam

    /// <summary>torch.optim.AdamW's defaults (weight decay 1e-2).</summary>
    let adamw : AdamOptions = ofDescriptor Descriptors.adamw

    /// The options by PyTorch key.
    let internal hypers (o: AdamOptions) =
        FixedHypers([ "lr", o.Lr; "eps", o.Eps; "weight_decay", o.WeightDecay ], [ "betas", (o.Beta1, o.Beta2) ], [ "amsgrad", o.Amsgrad; "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.Adam</c> does, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdamOptions) =
        Descriptors.adam.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Adagrad, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type AdagradOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-2).</summary>
      Lr: float
      /// <summary>Learning-rate decay (<c>lr_decay</c>, default 0): step <c>t</c> uses <c>lr / (1 + (t-1)·lr_decay)</c>.</summary>
      LrDecay: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>The starting value of the sum of squared gradients (<c>initial_accumulator_value</c>, default 0).</summary>
      InitialAccumulatorValue: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-10).</summary>
      Eps: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AdagradOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AdagradOptions =

    /// <summary>torch.optim.Adagrad's defaults.</summary>
    let defaults : AdagradOptions =
        let d = Descriptors.adagrad
        { Lr = d.Scalar "lr"; LrDecay = d.Scalar "lr_decay"; WeightDecay = d.Scalar "weight_decay"
          InitialAccumulatorValue = d.Scalar "initial_accumulator_value"; Eps = d.Scalar "eps"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: AdagradOptions) =
        FixedHypers([ "lr", o.Lr; "lr_decay", o.LrDecay; "weight_decay", o.WeightDecay; "initial_accumulator_value", o.InitialAccumulatorValue; "eps", o.Eps ],
                    [], [ "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.Adagrad</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdagradOptions) =
        Descriptors.adagrad.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of RMSprop, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type RmspropOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-2).</summary>
      Lr: float
      /// <summary>Smoothing constant of the squared-gradient average (<c>alpha</c>, default 0.99).</summary>
      Alpha: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Momentum factor (<c>momentum</c>, default 0).</summary>
      Momentum: float
      /// <summary>Normalise by the estimated variance instead of the second moment (<c>centered</c>, default false).</summary>
      Centered: bool
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.RmspropOptions"/>.</summary>
[<RequireQualifiedAccess>]
module RmspropOptions =

    /// <summary>torch.optim.RMSprop's defaults.</summary>
    let defaults : RmspropOptions =
        let d = Descriptors.rmsprop
        { Lr = d.Scalar "lr"; Alpha = d.Scalar "alpha"; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"
          Momentum = d.Scalar "momentum"; Centered = d.Flag "centered"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: RmspropOptions) =
        FixedHypers([ "lr", o.Lr; "alpha", o.Alpha; "eps", o.Eps; "weight_decay", o.WeightDecay; "momentum", o.Momentum ], [],
                    [ "centered", o.Centered; "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.RMSprop</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: RmspropOptions) =
        Descriptors.rmsprop.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Adadelta, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type AdadeltaOptions =
    { /// <summary>Coefficient that scales the step (<c>lr</c>, default 1.0).</summary>
      Lr: float
      /// <summary>Decay of the running averages (<c>rho</c>, default 0.9).</summary>
      Rho: float
      /// <summary>Term added inside both square roots (<c>eps</c>, default 1e-6).</summary>
      Eps: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AdadeltaOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AdadeltaOptions =

    /// <summary>torch.optim.Adadelta's defaults.</summary>
    let defaults : AdadeltaOptions =
        let d = Descriptors.adadelta
        { Lr = d.Scalar "lr"; Rho = d.Scalar "rho"; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: AdadeltaOptions) =
        FixedHypers([ "lr", o.Lr; "rho", o.Rho; "eps", o.Eps; "weight_decay", o.WeightDecay ], [], [ "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.Adadelta</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdadeltaOptions) =
        Descriptors.adadelta.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Adamax, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type AdamaxOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 2e-3).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Decay of the infinity norm (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Term added to the gradient's magnitude (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AdamaxOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AdamaxOptions =

    /// <summary>torch.optim.Adamax's defaults.</summary>
    let defaults : AdamaxOptions =
        let d = Descriptors.adamax
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: AdamaxOptions) =
        FixedHypers([ "lr", o.Lr; "eps", o.Eps; "weight_decay", o.WeightDecay ], [ "betas", (o.Beta1, o.Beta2) ], [ "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.Adamax</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdamaxOptions) =
        Descriptors.adamax.ValidateFixed(hypers o)
        o

/// <summary>
/// Hyperparameters of NAdam, with PyTorch 1.13's names and meaning, plus PyTorch 2.x's
/// <c>decoupled_weight_decay</c> and <c>maximize</c>. A struct.
/// </summary>
[<Struct>]
type NadamOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 2e-3).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Weight decay (<c>weight_decay</c>, default 0): coupled L2, or decoupled with <c>DecoupledWeightDecay</c>.</summary>
      WeightDecay: float
      /// <summary>Momentum decay <c>ψ</c> of the momentum schedule (<c>momentum_decay</c>, default 4e-3).</summary>
      MomentumDecay: float
      /// <summary>Shrink the parameter by <c>1 - lr·λ</c> instead of adding <c>λ·p</c> to the gradient (<c>decoupled_weight_decay</c>, PyTorch 2.x, default false).</summary>
      DecoupledWeightDecay: bool
      /// <summary>Maximise the objective (<c>maximize</c>, PyTorch 2.x, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.NadamOptions"/>.</summary>
[<RequireQualifiedAccess>]
module NadamOptions =

    /// <summary>torch.optim.NAdam's defaults.</summary>
    let defaults : NadamOptions =
        let d = Descriptors.nadam
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"
          MomentumDecay = d.Scalar "momentum_decay"; DecoupledWeightDecay = d.Flag "decoupled_weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: NadamOptions) =
        FixedHypers([ "lr", o.Lr; "eps", o.Eps; "weight_decay", o.WeightDecay; "momentum_decay", o.MomentumDecay ], [ "betas", (o.Beta1, o.Beta2) ],
                    [ "decoupled_weight_decay", o.DecoupledWeightDecay; "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.NAdam</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: NadamOptions) =
        Descriptors.nadam.ValidateFixed(hypers o)
        o

/// <summary>
/// Hyperparameters of RAdam, with PyTorch 1.13's names and meaning, plus PyTorch 2.x's
/// <c>decoupled_weight_decay</c> and <c>maximize</c>. A struct.
/// </summary>
[<Struct>]
type RadamOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-3).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Weight decay (<c>weight_decay</c>, default 0): coupled L2, or decoupled with <c>DecoupledWeightDecay</c>.</summary>
      WeightDecay: float
      /// <summary>Shrink the parameter by <c>1 - lr·λ</c> instead of adding <c>λ·p</c> to the gradient (<c>decoupled_weight_decay</c>, PyTorch 2.x, default false).</summary>
      DecoupledWeightDecay: bool
      /// <summary>Maximise the objective (<c>maximize</c>, PyTorch 2.x, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.RadamOptions"/>.</summary>
[<RequireQualifiedAccess>]
module RadamOptions =

    /// <summary>torch.optim.RAdam's defaults.</summary>
    let defaults : RadamOptions =
        let d = Descriptors.radam
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"
          DecoupledWeightDecay = d.Flag "decoupled_weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: RadamOptions) =
        FixedHypers([ "lr", o.Lr; "eps", o.Eps; "weight_decay", o.WeightDecay ], [ "betas", (o.Beta1, o.Beta2) ],
                    [ "decoupled_weight_decay", o.DecoupledWeightDecay; "maximize", o.Maximize ])

    /// <summary>Checks the options as <c>torch.optim.RAdam</c> does (and rejects NaN and infinities), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: RadamOptions) =
        Descriptors.radam.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of ASGD (averaged SGD), with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type AsgdOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-2).</summary>
      Lr: float
      /// <summary>Decay term (<c>lambd</c>, default 1e-4).</summary>
      Lambd: float
      /// <summary>Power of the learning-rate decay (<c>alpha</c>, default 0.75).</summary>
      Alpha: float
      /// <summary>The step after which averaging starts (<c>t0</c>, default 1e6).</summary>
      T0: float
      /// <summary>Coupled L2 penalty (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AsgdOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AsgdOptions =

    /// <summary>torch.optim.ASGD's defaults.</summary>
    let defaults : AsgdOptions =
        let d = Descriptors.asgd
        { Lr = d.Scalar "lr"; Lambd = d.Scalar "lambd"; Alpha = d.Scalar "alpha"; T0 = d.Scalar "t0"; WeightDecay = d.Scalar "weight_decay"
          Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: AsgdOptions) =
        FixedHypers([ "lr", o.Lr; "lambd", o.Lambd; "alpha", o.Alpha; "t0", o.T0; "weight_decay", o.WeightDecay ], [], [ "maximize", o.Maximize ])

    /// <summary>
    /// Checks the options as <c>torch.optim.ASGD</c> does, and returns them. PyTorch leaves <c>lambd</c>,
    /// <c>alpha</c> and <c>t0</c> unchecked; negative or non-finite values of those make no sense either
    /// (a negative <c>lambd</c> grows the parameters) and are rejected too.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AsgdOptions) =
        Descriptors.asgd.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Rprop, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type RpropOptions =
    { /// <summary>The initial step size (<c>lr</c>, default 1e-2).</summary>
      Lr: float
      /// <summary>Step-size factor when the gradient changes sign (<c>etas[0]</c>, default 0.5).</summary>
      EtaMinus: float
      /// <summary>Step-size factor when it keeps its sign (<c>etas[1]</c>, default 1.2).</summary>
      EtaPlus: float
      /// <summary>The smallest step size (<c>step_sizes[0]</c>, default 1e-6).</summary>
      StepSizeMin: float
      /// <summary>The largest step size (<c>step_sizes[1]</c>, default 50).</summary>
      StepSizeMax: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.RpropOptions"/>.</summary>
[<RequireQualifiedAccess>]
module RpropOptions =

    /// <summary>torch.optim.Rprop's defaults.</summary>
    let defaults : RpropOptions =
        let d = Descriptors.rprop
        let etaMinus, etaPlus = d.Pair "etas"
        let lo, hi = d.Pair "step_sizes"
        { Lr = d.Scalar "lr"; EtaMinus = etaMinus; EtaPlus = etaPlus; StepSizeMin = lo; StepSizeMax = hi; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: RpropOptions) =
        FixedHypers([ "lr", o.Lr ], [ "etas", (o.EtaMinus, o.EtaPlus); "step_sizes", (o.StepSizeMin, o.StepSizeMax) ], [ "maximize", o.Maximize ])

    /// <summary>
    /// Checks the options as <c>torch.optim.Rprop</c> does (<c>0 &lt; etas[0] &lt; 1 &lt; etas[1]</c>), and returns
    /// them. PyTorch leaves <c>step_sizes</c> unchecked; they must also satisfy <c>0 ≤ step_sizes[0] ≤ step_sizes[1]</c>
    /// here, because a reversed range silently pins every step size to the maximum.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: RpropOptions) =
        Descriptors.rprop.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of Lion (not in torch.optim; defaults of the paper's reference code). A struct.</summary>
[<Struct>]
type LionOptions =
    { /// <summary>Learning rate (default 1e-4).</summary>
      Lr: float
      /// <summary>Interpolation that forms the update direction (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Decay of the momentum (<c>betas[1]</c>, default 0.99).</summary>
      Beta2: float
      /// <summary>Decoupled weight decay (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.LionOptions"/>.</summary>
[<RequireQualifiedAccess>]
module LionOptions =

    /// <summary>The defaults of Lion's reference implementation.</summary>
    let defaults : LionOptions =
        let d = Descriptors.lion
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; WeightDecay = d.Scalar "weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: LionOptions) =
        FixedHypers([ "lr", o.Lr; "weight_decay", o.WeightDecay ], [ "betas", (o.Beta1, o.Beta2) ], [ "maximize", o.Maximize ])

    /// <summary>Checks the options, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: LionOptions) =
        Descriptors.lion.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of LAMB (not in torch.optim; the defaults of <c>optax.lamb</c>). A struct.</summary>
[<Struct>]
type LambOptions =
    { /// <summary>Learning rate (default 1e-3).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-6).</summary>
      Eps: float
      /// <summary>Weight decay added to the Adam direction before the trust ratio (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.LambOptions"/>.</summary>
[<RequireQualifiedAccess>]
module LambOptions =

    /// <summary>The defaults of <c>optax.lamb</c>.</summary>
    let defaults : LambOptions =
        let d = Descriptors.lamb
        let b1, b2 = d.Pair "betas"
        { Lr = d.Scalar "lr"; Beta1 = b1; Beta2 = b2; Eps = d.Scalar "eps"; WeightDecay = d.Scalar "weight_decay"; Maximize = d.Flag "maximize" }

    /// The options by PyTorch key.
    let internal hypers (o: LambOptions) =
        FixedHypers([ "lr", o.Lr; "eps", o.Eps; "weight_decay", o.WeightDecay ], [ "betas", (o.Beta1, o.Beta2) ], [ "maximize", o.Maximize ])

    /// <summary>Checks the options, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: LambOptions) =
        Descriptors.lamb.ValidateFixed(hypers o)
        o

/// <summary>Hyperparameters of SparseAdam, with PyTorch 1.13's names and meaning. A struct.</summary>
[<Struct>]
type SparseAdamOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-3, more than 0).</summary>
      Lr: float
      /// <summary>First-moment decay (<c>betas[0]</c>, default 0.9).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8, more than 0).</summary>
      Eps: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.SparseAdamOptions"/>.</summary>
[<RequireQualifiedAccess>]
module SparseAdamOptions =

    /// <summary>torch.optim.SparseAdam's defaults.</summary>
    let defaults : SparseAdamOptions = { Lr = 1e-3; Beta1 = 0.9; Beta2 = 0.999; Eps = 1e-8; Maximize = false }

    /// <summary>Checks the options as <c>torch.optim.SparseAdam</c> does (<c>lr</c> and <c>eps</c> above 0), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: SparseAdamOptions) =
        if not (o.Lr > 0.0 && Double.IsFinite o.Lr) then
            raise (ArgumentOutOfRangeException("lr", o.Lr, $"Invalid lr value: {o.Lr}; it must be a finite number above 0."))
        if not (o.Eps > 0.0 && Double.IsFinite o.Eps) then
            raise (ArgumentOutOfRangeException("eps", o.Eps, $"Invalid eps value: {o.Eps}; it must be a finite number above 0."))
        Validate.unitInterval "betas" "betas[0]" o.Beta1
        Validate.unitInterval "betas" "betas[1]" o.Beta2
        o

/// <summary>
/// Hyperparameters of Adafactor, with PyTorch 2.x's names, meaning and defaults (<c>torch.optim.Adafactor</c>; 1.13
/// has none). A struct.
/// </summary>
[<Struct>]
type AdafactorOptions =
    { /// <summary>
      /// The largest relative step size and the weight decay's scale (<c>lr</c>, default 1e-2): step <c>t</c> uses
      /// <c>ρₜ = min(lr, 1/√t)</c>.
      /// </summary>
      Lr: float
      /// <summary>The decay rate <c>τ</c> of the second moment (<c>beta2_decay</c>, default -0.8): <c>β₂ₜ = 1 - t^τ</c>.</summary>
      Beta2Decay: float
      /// <summary>
      /// The floor of the variance estimate's square root (<c>eps[0]</c>, default <c>ValueNone</c>: PyTorch's <c>None</c>,
      /// which is <c>torch.finfo(float32).eps</c> = 2⁻²³ for float32 parameters).
      /// </summary>
      Eps1: float voption
      /// <summary>The floor of the parameter's RMS in the step size (<c>eps[1]</c>, default 1e-3).</summary>
      Eps2: float
      /// <summary>The clipping threshold <c>d</c> of the update's RMS (<c>d</c>, default 1.0).</summary>
      D: float
      /// <summary>Decoupled weight decay: the parameter is multiplied by <c>1 - lr·λ</c> (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Maximise the objective (<c>maximize</c>, default false).</summary>
      Maximize: bool }

/// <summary>Defaults and validation for <see cref="T:Optim.AdafactorOptions"/>.</summary>
[<RequireQualifiedAccess>]
module AdafactorOptions =

    /// <summary>torch.optim.Adafactor's defaults (PyTorch 2.x).</summary>
    let defaults : AdafactorOptions =
        { Lr = 1e-2; Beta2Decay = -0.8; Eps1 = ValueNone; Eps2 = 1e-3; D = 1.0; WeightDecay = 0.0; Maximize = false }

    /// <summary><c>torch.finfo(torch.float32).eps</c> = 2⁻²³: what <c>eps[0] = None</c> stands for with float32 parameters.</summary>
    let float32Eps : float = 1.1920928955078125e-07

    /// The value of eps[0] in use: the given one, or float32Eps.
    let internal eps1 (o: AdafactorOptions) : float = ValueOption.defaultValue float32Eps o.Eps1

    /// <summary>
    /// Checks the options as <c>torch.optim.Adafactor</c> does (<c>lr ≥ 0</c>, <c>beta2_decay ≤ 0</c>, <c>eps[0] ≥ 0</c> when
    /// set, <c>eps[1] ≥ 0</c>, <c>d ≥ 1</c>, <c>weight_decay ≥ 0</c>; and rejects NaN and infinities), and returns them.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdafactorOptions) =
        Validate.nonNegative "lr" "lr" o.Lr
        if not (o.Beta2Decay <= 0.0 && Double.IsFinite o.Beta2Decay) then
            raise (ArgumentOutOfRangeException("beta2Decay", o.Beta2Decay, $"Invalid beta2_decay value: {o.Beta2Decay}; it must be a finite number, 0 or less."))
        match o.Eps1 with
        | ValueSome e -> Validate.nonNegative "eps" "eps[0]" e
        | ValueNone -> ()
        Validate.nonNegative "eps" "eps[1]" o.Eps2
        if not (o.D >= 1.0 && Double.IsFinite o.D) then
            raise (ArgumentOutOfRangeException("d", o.D, $"Invalid d value: {o.D}; it must be a finite number, 1 or more."))
        Validate.nonNegative "weightDecay" "weight_decay" o.WeightDecay
        o

/// <summary>How Muon scales its learning rate by the shape of an <c>A × B</c> matrix (PyTorch 2.9's <c>adjust_lr_fn</c>), so
/// that the orthogonalised update has a consistent RMS across rectangular matrices.</summary>
[<RequireQualifiedAccess>]
type MuonLrAdjustment =
    /// <summary>Keller Jordan's <c>lr·√max(1, A/B)</c>: PyTorch's <c>None</c> (the default) and <c>"original"</c>.</summary>
    | Original
    /// <summary>Moonshot's <c>lr·0.2·√max(A, B)</c> (<c>"match_rms_adamw"</c>; Liu et al., "Muon is Scalable for LLM
    /// Training", 2025), which matches the update's RMS to AdamW's, so that AdamW's learning rate and weight decay carry over.</summary>
    | MatchRmsAdamW

/// <summary>
/// Hyperparameters of Muon, with PyTorch 2.9's names, meaning and defaults (<c>torch.optim.Muon</c>; 1.13 has none). A
/// struct.
/// </summary>
[<Struct>]
type MuonOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1e-3), before the shape's adjustment.</summary>
      Lr: float
      /// <summary>Decoupled weight decay: the parameter is multiplied by <c>1 - lr·λ</c> (<c>weight_decay</c>, default 0.1).</summary>
      WeightDecay: float
      /// <summary>The momentum <c>μ</c> (<c>momentum</c>, default 0.95): <c>b = lerp(b, g, 1 - μ)</c>.</summary>
      Momentum: float
      /// <summary>Nesterov momentum: orthogonalise <c>lerp(g, b, μ)</c> instead of <c>b</c> (<c>nesterov</c>, default true).</summary>
      Nesterov: bool
      /// <summary>The coefficients <c>(a, b, c)</c> of the quintic <c>X ↦ a·X + b·(XXᵀ)X + c·(XXᵀ)²X</c> that each
      /// Newton–Schulz step applies (<c>ns_coefficients</c>, default (3.4445, -4.775, 2.0315)).</summary>
      NsCoefficients: struct (float * float * float)
      /// <summary>The floor of the Frobenius norm that normalises the momentum before the iteration (<c>eps</c>, default 1e-7).</summary>
      Eps: float
      /// <summary>How many Newton–Schulz steps (<c>ns_steps</c>, default 5).</summary>
      NsSteps: int
      /// <summary>The learning rate's adjustment to the matrix's shape (<c>adjust_lr_fn</c>, default <c>Original</c>).</summary>
      AdjustLrFn: MuonLrAdjustment }

/// <summary>Defaults, validation and the learning-rate adjustment of <see cref="T:Optim.MuonOptions"/>.</summary>
[<RequireQualifiedAccess>]
module MuonOptions =

    /// <summary>torch.optim.Muon's defaults (PyTorch 2.9).</summary>
    let defaults : MuonOptions =
        { Lr = 1e-3; WeightDecay = 0.1; Momentum = 0.95; Nesterov = true; NsCoefficients = struct (3.4445, -4.775, 2.0315)
          Eps = 1e-7; NsSteps = 5; AdjustLrFn = MuonLrAdjustment.Original }

    /// <summary>The most Newton–Schulz steps PyTorch takes: it fails on 100 or more "for computational efficiency".</summary>
    [<Literal>]
    let MaxNsSteps = 99

    /// <summary>
    /// The factor Muon multiplies the learning rate by for an <c>A × B</c> parameter, as PyTorch 2.9's <c>_adjust_lr</c>
    /// computes it in double: <c>√max(1, A/B)</c>, or <c>0.2·√max(A, B)</c> for <c>MatchRmsAdamW</c>.
    /// </summary>
    /// <param name="adjustment">The adjustment.</param>
    /// <param name="rows">A, the parameter's rows.</param>
    /// <param name="cols">B, its columns.</param>
    /// <example><c>MuonOptions.lrRatio MuonLrAdjustment.Original 4 1</c> is 2.0.</example>
    let lrRatio (adjustment: MuonLrAdjustment) (rows: int) (cols: int) : float =
        match adjustment with
        | MuonLrAdjustment.Original -> sqrt (max 1.0 (float rows / float cols))
        | MuonLrAdjustment.MatchRmsAdamW -> 0.2 * sqrt (float (max rows cols))

    /// <summary>
    /// Checks the options as <c>torch.optim.Muon</c> does (<c>lr ≥ 0</c>, <c>momentum ≥ 0</c>, <c>weight_decay ≥ 0</c>, and
    /// <c>ns_steps</c> below 100 at its first step), and more strictly: <c>momentum</c> in [0, 1) (at 1 the buffer never
    /// moves, above it grows without bound), <c>ns_steps</c> 1 or more (0 steps would apply the normalised momentum,
    /// not an orthogonalised one), <c>eps ≥ 0</c>, finite coefficients; and rejects NaN and infinities. Returns them.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: MuonOptions) =
        Validate.nonNegative "lr" "lr" o.Lr
        Validate.nonNegative "weightDecay" "weight_decay" o.WeightDecay
        Validate.unitInterval "momentum" "momentum" o.Momentum
        Validate.nonNegative "eps" "eps" o.Eps
        let struct (a, b, c) = o.NsCoefficients
        if not (Double.IsFinite a && Double.IsFinite b && Double.IsFinite c) then
            raise (ArgumentOutOfRangeException("nsCoefficients", o.NsCoefficients, $"Invalid ns_coefficients value: ({a}, {b}, {c}); each must be a finite number."))
        if o.NsSteps < 1 || o.NsSteps > MaxNsSteps then
            raise (ArgumentOutOfRangeException("nsSteps", o.NsSteps, $"Invalid ns_steps value: {o.NsSteps}; it must be a whole number from 1 to {MaxNsSteps} (PyTorch takes fewer than 100)."))
        o
