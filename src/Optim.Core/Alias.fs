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
        Descriptors.sgd.Chain(SgdOptions.hypers (SgdOptions.validate o))

    /// <summary>
    /// Adam as <c>torch.optim.Adam</c> (Kingma &amp; Ba, 2015), with coupled L2 weight decay and AMSGrad:
    /// <c>chain [maximize?; addWeightDecay λ; scaleByAdam β₁ β₂ ε amsgrad; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adam (o: AdamOptions) : GradientTransformation =
        Descriptors.adam.Chain(AdamOptions.hypers (AdamOptions.validate o))

    /// <summary>
    /// AdamW as <c>torch.optim.AdamW</c> (Loshchilov &amp; Hutter, 2019), with decoupled weight decay:
    /// <c>chain [maximize?; scaleByAdam β₁ β₂ ε amsgrad; scaleByLearningRate lr; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamw (o: AdamOptions) : GradientTransformation =
        Descriptors.adamw.Chain(AdamOptions.hypers (AdamOptions.validate o))

    /// <summary>
    /// Adagrad as <c>torch.optim.Adagrad</c> (Duchi et al., JMLR 2011): <c>d = ±g + λp</c>, <c>s = s + d²</c>,
    /// <c>p' = p - lrₜ·d / (√s + ε)</c> with <c>lrₜ = lr / (1 + (t-1)·lr_decay)</c>.
    /// <c>chain [maximize?; addWeightDecay λ; scaleByRss s₀ ε; scaleByLearningRateSchedule lrₜ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adagrad (o: AdagradOptions) : GradientTransformation =
        Descriptors.adagrad.Chain(AdagradOptions.hypers (AdagradOptions.validate o))

    /// <summary>
    /// RMSprop as <c>torch.optim.RMSprop</c> (Hinton, 2012; centered: Graves, 2013): <c>d = ±g + λp</c>,
    /// <c>v = αv + (1-α)d²</c>, <c>a = √v + ε</c> (centered: <c>√(v - ḡ²) + ε</c>); with momentum <c>b = μb + d/a</c>,
    /// <c>p' = p - lr·b</c>, else <c>p' = p - lr·d/a</c>.
    /// <c>chain [maximize?; addWeightDecay λ; scaleByRms α ε centered; traceFromZeros μ; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rmsprop (o: RmspropOptions) : GradientTransformation =
        Descriptors.rmsprop.Chain(RmspropOptions.hypers (RmspropOptions.validate o))

    /// <summary>
    /// Adadelta as <c>torch.optim.Adadelta</c> (Zeiler, 2012): <c>d = ±g + λp</c>, <c>v = ρv + (1-ρ)d²</c>,
    /// <c>δ = √(a + ε)/√(v + ε)·d</c>, <c>a = ρa + (1-ρ)δ²</c>, <c>p' = p - lr·δ</c>.
    /// <c>chain [maximize?; addWeightDecay λ; scaleByAdadelta ρ ε; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adadelta (o: AdadeltaOptions) : GradientTransformation =
        Descriptors.adadelta.Chain(AdadeltaOptions.hypers (AdadeltaOptions.validate o))

    /// <summary>
    /// Adamax as <c>torch.optim.Adamax</c> (Kingma &amp; Ba, 2015, §7): <c>d = ±g + λp</c>, <c>m = β₁m + (1-β₁)d</c>,
    /// <c>w = max(β₂w, |d| + ε)</c>, <c>p' = p - (lr / (1-β₁ᵗ))·m / w</c>.
    /// <c>chain [maximize?; addWeightDecay λ; scaleByAdamax β₁ β₂ ε; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamax (o: AdamaxOptions) : GradientTransformation =
        Descriptors.adamax.Chain(AdamaxOptions.hypers (AdamaxOptions.validate o))

    /// <summary>
    /// NAdam as <c>torch.optim.NAdam</c> (Dozat, 2016), with PyTorch 2.x's <c>maximize</c> and
    /// <c>decoupled_weight_decay</c>: coupled,
    /// <c>chain [maximize?; addWeightDecay λ; scaleByNadam β₁ β₂ ε ψ; scaleByLearningRate lr]</c>; decoupled,
    /// <c>chain [maximize?; scaleByNadam β₁ β₂ ε ψ; scaleByLearningRate lr; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let nadam (o: NadamOptions) : GradientTransformation =
        Descriptors.nadam.Chain(NadamOptions.hypers (NadamOptions.validate o))

    /// <summary>
    /// RAdam as <c>torch.optim.RAdam</c> (Liu et al., ICLR 2020), with PyTorch 2.x's <c>maximize</c> and
    /// <c>decoupled_weight_decay</c>: coupled,
    /// <c>chain [maximize?; addWeightDecay λ; scaleByRadam β₁ β₂ ε; scaleByLearningRate lr]</c>; decoupled,
    /// <c>chain [maximize?; scaleByRadam β₁ β₂ ε; scaleByLearningRate lr; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let radam (o: RadamOptions) : GradientTransformation =
        Descriptors.radam.Chain(RadamOptions.hypers (RadamOptions.validate o))

    /// <summary>
    /// ASGD as <c>torch.optim.ASGD</c> (Polyak &amp; Juditsky, 1992): <c>d = ±g + λ_wd·p</c>,
    /// <c>p' = p·(1 - λη) - η·d</c>, with <c>η</c> decaying as <c>lr / (1 + λ·lr·t)^α</c> and the
    /// average of the iterates kept in <c>"ax"</c>.
    /// <c>chain [maximize?; addWeightDecay λ_wd; scaleByAsgdLearningRate lr λ α; averageIterates t₀]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let asgd (o: AsgdOptions) : GradientTransformation =
        Descriptors.asgd.Chain(AsgdOptions.hypers (AsgdOptions.validate o))

    /// <summary>
    /// Rprop as <c>torch.optim.Rprop</c> (Riedmiller &amp; Braun, 1993), in its full-batch form: per element a step
    /// size adapted by the sign agreement of consecutive gradients, <c>p' = p - sign(g)·s</c>.
    /// <c>chain [maximize?; scaleByRprop lr η₋ η₊ s_min s_max; scale -1]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rprop (o: RpropOptions) : GradientTransformation =
        Descriptors.rprop.Chain(RpropOptions.hypers (RpropOptions.validate o))

    /// <summary>
    /// Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023), built from blocks:
    /// <c>p' = p - lr·(sign(β₁m + (1-β₁)g) + λp)</c>, <c>m = β₂m + (1-β₂)g</c>.
    /// <c>chain [maximize?; scaleByLion β₁ β₂; scaleByLearningRate lr; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let lion (o: LionOptions) : GradientTransformation =
        Descriptors.lion.Chain(LionOptions.hypers (LionOptions.validate o))

    /// <summary>
    /// LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020),
    /// built from blocks: the Adam direction <c>r = m̂ / (√v̂ + ε)</c>, plus <c>λp</c>, scaled per parameter by the
    /// trust ratio <c>‖p‖ / ‖r + λp‖</c>, then by <c>-lr</c>.
    /// <c>chain [maximize?; scaleByAdam β₁ β₂ ε false; addWeightDecay λ; scaleByTrustRatio; scaleByLearningRate lr]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let lamb (o: LambOptions) : GradientTransformation =
        Descriptors.lamb.Chain(LambOptions.hypers (LambOptions.validate o))

    /// <summary>
    /// Adafactor as <c>torch.optim.Adafactor</c> of PyTorch 2.x (Shazeer &amp; Stern, "Adafactor: Adaptive Learning Rates
    /// with Sublinear Memory Cost", ICML 2018): at step <c>t</c>, <c>G = ±g</c>, <c>β̂₂ₜ = 1 - t^τ</c>,
    /// <c>ρₜ = min(lr, 1/√t)</c>, <c>αₜ = max(ε₂, RMS(p))·ρₜ</c>; the second moment <c>V̂</c> factored into row and column
    /// averages for parameters of two or more dimensions (over the last two), <c>U = G / max(√V̂, ε₁)</c>,
    /// <c>Û = U / max(1, RMS(U)/d)</c>, <c>p' = p·(1 - lr·λ) - αₜ·Û</c>.
    /// <c>chain [maximize?; scaleByFactoredRms τ ε₁; clipByBlockRms d; scaleByParamBlockRms ε₂; scaleByLearningRateSchedule ρ; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adafactor (o: AdafactorOptions) : GradientTransformation =
        let o = AdafactorOptions.validate o
        Transform.chain
            [ maybeMaximize o.Maximize
              Blocks.scaleByFactoredRms o.Beta2Decay (AdafactorOptions.eps1 o)
              Blocks.clipByBlockRms o.D
              Blocks.scaleByParamBlockRms o.Eps2
              Blocks.scaleByLearningRateSchedule (fun k -> min o.Lr (1.0 / sqrt (float k + 1.0)))
              Blocks.decoupledWeightDecay o.Lr o.WeightDecay ]

    /// <summary>
    /// Muon as <c>torch.optim.Muon</c> of PyTorch 2.9 (Jordan et al., "Muon: An optimizer for hidden layers in neural
    /// networks", 2024; the learning-rate adjustments of Liu et al., "Muon is Scalable for LLM Training", 2025), for
    /// matrices: <c>b = lerp(b, g, 1 - μ)</c>, <c>B̃ = lerp(g, b, μ)</c> with Nesterov (else <c>b</c>),
    /// <c>O = NS(B̃)</c> (Newton–Schulz, <c>ns_steps</c> steps of the quintic <c>(a, b, c)</c> on <c>B̃ / max(‖B̃‖_F, ε)</c>),
    /// <c>p' = p·(1 - lr·λ) - lr·r(A, B)·O</c> with <c>r = √max(1, A/B)</c>, or <c>0.2·√max(A, B)</c> for <c>MatchRmsAdamW</c>.
    /// <c>chain [traceByLerp μ nesterov; orthogonalizeByNewtonSchulz (a, b, c) k ε; scaleByLearningRateForShape lr r; decoupledWeightDecay lr λ]</c>.
    /// </summary>
    /// <remarks>PyTorch runs the iteration in bfloat16; this computes it in float32 (see docs/muon.md). Every parameter
    /// must be 2-D: <see cref="M:Optim.Alias.muonWithAdamW(Optim.MuonOptions,Optim.AdamOptions)"/> gives the others to AdamW.</remarks>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid; at <c>Init</c> or an update, a parameter is not 2-D.</exception>
    let muon (o: MuonOptions) : GradientTransformation =
        let o = MuonOptions.validate o
        let adjust = o.AdjustLrFn
        Transform.chain
            [ Blocks.traceByLerp o.Momentum o.Nesterov
              Blocks.orthogonalizeByNewtonSchulz o.NsCoefficients o.NsSteps o.Eps
              Blocks.scaleByLearningRateForShape o.Lr (fun shape -> MuonOptions.lrRatio adjust shape.[0] shape.[1])
              Blocks.decoupledWeightDecay o.Lr o.WeightDecay ]

    /// <summary>
    /// Muon on the matrices and AdamW on every other parameter (biases, gains, scalars), as PyTorch's documentation of
    /// <c>torch.optim.Muon</c> pairs them and <c>optax.contrib.muon</c> partitions them: <c>Combinators.partition</c> with
    /// the labels <c>"muon"</c> (a parameter of two dimensions) and <c>"adamw"</c> (any other).
    /// </summary>
    /// <param name="muonOptions">Muon's options, for the 2-D parameters (validated).</param>
    /// <param name="adamwOptions">AdamW's options, for the others (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    /// <example><c>Alias.muonWithAdamW { MuonOptions.defaults with Lr = 0.02 } { AdamOptions.adamw with Lr = 3e-4 }</c></example>
    let muonWithAdamW (muonOptions: MuonOptions) (adamwOptions: AdamOptions) : GradientTransformation =
        Combinators.partition (fun _ shape -> if shape.Length = 2 then "muon" else "adamw")
            [ "muon", muon muonOptions; "adamw", adamw adamwOptions ]
