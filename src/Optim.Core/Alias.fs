namespace Optim

/// <summary>
/// Named optimizers as chains of <see cref="T:Optim.Blocks"/>, in the style of <c>optax.adam</c>.
/// Each equals its fused kernel in <see cref="T:Optim.Fused"/> and PyTorch's optimizer of the same name.
/// Build an alias again with new hyperparameters (a scheduled learning rate, momentum or betas) and keep the
/// state: hyperparameters are not part of the state.
/// </summary>
[<RequireQualifiedAccess>]
module Alias =

    let private maybeMaximize maximize = if maximize then Blocks.maximize else Transform.identity

    /// <summary>
    /// SGD as <c>torch.optim.SGD</c>: <c>d = g + λp</c>; with momentum <c>b = μb + (1-τ)d</c> (<c>b = d</c> at first),
    /// <c>d = b</c> or <c>d + μb</c> (Nesterov); <c>p' = p - lr·d</c>.
    /// <c>chain [maximize?; addWeightDecay λ; trace μ τ nesterov; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let sgd (o: SgdOptions) : GradientTransformation =
        let o = SgdOptions.validate o
        Transform.chain
            [ maybeMaximize o.Maximize
              Blocks.addWeightDecay o.WeightDecay
              Blocks.trace o.Momentum o.Dampening o.Nesterov
              Blocks.scaleByLearningRate o.Lr ]

    /// <summary>
    /// Adam as <c>torch.optim.Adam</c> (Kingma &amp; Ba, 2015), with coupled L2 weight decay and AMSGrad:
    /// <c>chain [maximize?; addWeightDecay λ; scaleByAdam β₁ β₂ ε amsgrad; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adam (o: AdamOptions) : GradientTransformation =
        let o = AdamOptions.validate o
        Transform.chain
            [ maybeMaximize o.Maximize
              Blocks.addWeightDecay o.WeightDecay
              Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad
              Blocks.scaleByLearningRate o.Lr ]

    /// <summary>
    /// AdamW as <c>torch.optim.AdamW</c> (Loshchilov &amp; Hutter, 2019), with decoupled weight decay:
    /// <c>chain [maximize?; scaleByAdam β₁ β₂ ε amsgrad; scaleByLearningRate lr; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamw (o: AdamOptions) : GradientTransformation =
        let o = AdamOptions.validate o
        Transform.chain
            [ maybeMaximize o.Maximize
              Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad
              Blocks.scaleByLearningRate o.Lr
              Blocks.decoupledWeightDecay o.Lr o.WeightDecay ]
