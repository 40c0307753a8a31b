namespace Optim

open System

/// <summary>Checks shared by every optimizer's options: each raises an <see cref="T:System.ArgumentException"/> whose
/// <c>ParamName</c> is the argument's camelCase name and whose message carries PyTorch's key and the bad value.</summary>
[<RequireQualifiedAccess>]
module Validate =

    let private fail (name: string) (key: string) (value: obj) (rule: string) : unit =
        raise (ArgumentOutOfRangeException(name, value, $"Invalid {key} value: {value}; it must be {rule}."))

    /// <summary>Requires a finite value of 0 or more.</summary>
    /// <param name="name">The argument's name, e.g. <c>weightDecay</c>.</param>
    /// <param name="key">PyTorch's key, e.g. <c>weight_decay</c>.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The value is negative, NaN or infinite.</exception>
    let nonNegative (name: string) (key: string) (value: float) =
        if not (value >= 0.0 && Double.IsFinite value) then fail name key value "a finite number, 0 or more"

    /// <summary>Requires a value in [0, 1).</summary>
    /// <param name="name">The argument's name.</param>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The value is outside [0, 1) or NaN.</exception>
    let unitInterval (name: string) (key: string) (value: float) =
        if not (value >= 0.0 && value < 1.0) then fail name key value "in [0, 1)"

    /// <summary>Requires a value in [0, 1].</summary>
    /// <param name="name">The argument's name.</param>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The value is outside [0, 1] or NaN.</exception>
    let closedUnitInterval (name: string) (key: string) (value: float) =
        if not (value >= 0.0 && value <= 1.0) then fail name key value "in [0, 1]"

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
        { Lr = lr; Momentum = 0.0; Dampening = 0.0; WeightDecay = 0.0; Nesterov = false; Maximize = false }

    /// <summary>Checks the options as <c>torch.optim.SGD</c> does, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    /// <exception cref="T:System.ArgumentException">Nesterov without momentum, or with dampening.</exception>
    let validate (o: SgdOptions) =
        Validate.nonNegative "lr" "lr" o.Lr
        Validate.nonNegative "momentum" "momentum" o.Momentum
        Validate.nonNegative "dampening" "dampening" o.Dampening
        Validate.nonNegative "weightDecay" "weight_decay" o.WeightDecay
        if o.Nesterov && (o.Momentum <= 0.0 || o.Dampening <> 0.0) then
            invalidArg "nesterov" $"Nesterov momentum requires a momentum and zero dampening (momentum={o.Momentum}, dampening={o.Dampening})."
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

    /// <summary>torch.optim.Adam's defaults.</summary>
    let adam : AdamOptions =
        { Lr = 1e-3; Beta1 = 0.9; Beta2 = 0.999; Eps = 1e-8; WeightDecay = 0.0; Amsgrad = false; Maximize = false }

    /// <summary>torch.optim.AdamW's defaults (weight decay 1e-2).</summary>
    let adamw : AdamOptions = { adam with WeightDecay = 1e-2 }

    /// <summary>Checks the options as <c>torch.optim.Adam</c> does, and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it and the value).</exception>
    let validate (o: AdamOptions) =
        Validate.nonNegative "lr" "lr" o.Lr
        Validate.nonNegative "eps" "eps" o.Eps
        Validate.unitInterval "betas" "betas[0]" o.Beta1
        Validate.unitInterval "betas" "betas[1]" o.Beta2
        Validate.nonNegative "weightDecay" "weight_decay" o.WeightDecay
        o
