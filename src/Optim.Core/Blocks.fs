namespace Optim

/// <summary>
/// The building blocks optimizers are made of. Each is a <see cref="T:Optim.GradientTransformation"/>;
/// named optimizers (<see cref="T:Optim.Alias"/>) are chains of them. Scalars are computed in
/// <c>double</c> and used in <c>float32</c> elementwise math, as PyTorch does.
/// </summary>
[<RequireQualifiedAccess>]
module Blocks =

    let private stateless (f: int -> float32[] -> State -> Tensor[] -> float32[]) : GradientTransformation =
        { Init = fun ps -> State.empty ps.Length
          Update = fun updates state ps -> updates |> Array.mapi (fun i u -> if isNull u then null else f i u state ps), state }

    /// <summary>Multiplies updates by a constant: <c>u' = c·u</c>.</summary>
    /// <param name="factor">The constant <c>c</c>.</param>
    let scale (factor: float) : GradientTransformation =
        let c = float32 factor
        stateless (fun _ u _ _ -> u |> Array.map (fun x -> c * x))

    /// <summary>
    /// Turns descent into ascent: <c>u' = -u</c>. Placed first in a chain, it is PyTorch's
    /// <c>maximize=True</c>, which negates the gradient before everything else.
    /// </summary>
    let maximize : GradientTransformation = stateless (fun _ u _ _ -> u |> Array.map (fun x -> -x))

    /// <summary>Multiplies updates by a schedule of the step count: <c>u' = s(t)·u</c>, <c>t</c> the parameter's completed steps.</summary>
    /// <param name="schedule">The schedule.</param>
    let scaleBySchedule (schedule: Schedule) : GradientTransformation =
        stateless (fun i u state _ ->
            let c = float32 (schedule state.Steps.[i])
            u |> Array.map (fun x -> c * x))

    /// <summary>
    /// Scales by the negated learning rate from a schedule: <c>u' = -lr(t)·u</c>. This block carries the
    /// library's one sign flip (updates are added to parameters).
    /// </summary>
    /// <param name="lr">The learning-rate schedule.</param>
    let scaleByLearningRateSchedule (lr: Schedule) : GradientTransformation = scaleBySchedule (fun t -> -(lr t))

    /// <summary>Scales by the negated constant learning rate: <c>u' = -lr·u</c>.</summary>
    /// <param name="lr">The learning rate.</param>
    let scaleByLearningRate (lr: float) : GradientTransformation = scale -lr

    /// <summary>
    /// Adds weight times parameter: <c>u' = u + λ·p</c>. Before the moment estimates it is coupled L2
    /// regularisation, PyTorch's <c>weight_decay</c> (<c>d_p = d_p.add(p, alpha=λ)</c>).
    /// </summary>
    /// <param name="weightDecay">The coefficient <c>λ</c>; 0 makes the block the identity.</param>
    let addWeightDecay (weightDecay: float) : GradientTransformation =
        let wd = float32 weightDecay
        if weightDecay = 0.0 then stateless (fun _ u _ _ -> u)
        else stateless (fun i u _ ps -> let p = ps.[i].Data in Array.init u.Length (fun j -> u.[j] + wd * p.[j]))

    /// <summary>
    /// Decoupled weight decay (Loshchilov &amp; Hutter, "Decoupled Weight Decay Regularization", 2019):
    /// placed after the learning-rate block, <c>u' = u - lr·λ·p</c>, so that <c>p' = p·(1 - lr·λ) + u</c> as in
    /// PyTorch's AdamW.
    /// </summary>
    /// <param name="lr">The learning rate the decay is scaled by.</param>
    /// <param name="weightDecay">The coefficient <c>λ</c>.</param>
    let decoupledWeightDecay (lr: float) (weightDecay: float) : GradientTransformation =
        let c = float32 (-(lr * weightDecay))
        if weightDecay = 0.0 then stateless (fun _ u _ _ -> u)
        else stateless (fun i u _ ps -> let p = ps.[i].Data in Array.init u.Length (fun j -> u.[j] + c * p.[j]))

    /// <summary>
    /// Momentum exactly as <c>torch.optim.SGD</c>: on a parameter's first update <c>b = u</c>, then
    /// <c>b = μ·b + (1 - τ)·u</c>; the output is <c>b</c>, or <c>u + μ·b</c> with Nesterov. Buffer:
    /// <c>"momentum_buffer"</c>. With <c>μ = 0</c> the block passes updates through and creates no buffer.
    /// </summary>
    /// <param name="momentum">The momentum <c>μ</c>.</param>
    /// <param name="dampening">The dampening <c>τ</c>.</param>
    /// <param name="nesterov">Whether to use Nesterov momentum (Sutskever et al., 2013).</param>
    let trace (momentum: float) (dampening: float) (nesterov: bool) : GradientTransformation =
        let mu = float32 momentum
        let keep = float32 (1.0 - dampening)
        { Init = fun ps -> State.empty ps.Length |> State.declare "momentum_buffer"
          Update =
            fun updates state _ ->
                if momentum = 0.0 then updates, state
                else
                    let bufs = Array.copy (State.buffer "momentum_buffer" state)
                    let out =
                        updates |> Array.mapi (fun i u ->
                            if isNull u then null
                            else
                                let old = bufs.[i]
                                let b = if isNull old then Array.copy u else Array.init u.Length (fun j -> old.[j] * mu + keep * u.[j])
                                bufs.[i] <- b
                                if nesterov then Array.init u.Length (fun j -> u.[j] + mu * b.[j]) else Array.copy b)
                    out, State.setBuffer "momentum_buffer" bufs state }

    /// <summary>
    /// Adam's moment scaling with bias correction (Kingma &amp; Ba, "Adam", 2015), and AMSGrad
    /// (Reddi et al., "On the Convergence of Adam and Beyond", 2018):
    /// <c>m = β₁m + (1-β₁)u</c>, <c>v = β₂v + (1-β₂)u²</c>, <c>v̂ = max(v̂, v)</c> with AMSGrad,
    /// <c>u' = (m / (1-β₁ᵗ)) / (√v / √(1-β₂ᵗ) + ε)</c>. Buffers: <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>,
    /// and <c>"max_exp_avg_sq"</c> with AMSGrad.
    /// </summary>
    /// <param name="beta1">The first-moment decay <c>β₁</c>.</param>
    /// <param name="beta2">The second-moment decay <c>β₂</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    /// <param name="amsgrad">Whether to normalise by the running maximum of <c>v</c>.</param>
    let scaleByAdam (beta1: float) (beta2: float) (eps: float) (amsgrad: bool) : GradientTransformation =
        let b1, b2 = float32 beta1, float32 beta2
        let omb1, omb2 = float32 (1.0 - beta1), float32 (1.0 - beta2)
        let epsf = float32 eps
        { Init =
            fun ps ->
                let s = State.empty ps.Length |> State.declare "exp_avg" |> State.declare "exp_avg_sq"
                if amsgrad then State.declare "max_exp_avg_sq" s else s
          Update =
            fun updates state _ ->
                let ms = Array.copy (State.buffer "exp_avg" state)
                let vs = Array.copy (State.buffer "exp_avg_sq" state)
                let vmax = if amsgrad then Array.copy (State.buffer "max_exp_avg_sq" state) else [||]
                let out =
                    updates |> Array.mapi (fun i u ->
                        if isNull u then null
                        else
                            let n = u.Length
                            let orZeros (a: float32[]) = if isNull a then Array.zeroCreate n else a
                            let m0, v0 = orZeros ms.[i], orZeros vs.[i]
                            let m = Array.init n (fun j -> m0.[j] * b1 + omb1 * u.[j])
                            let v = Array.init n (fun j -> v0.[j] * b2 + omb2 * u.[j] * u.[j])
                            ms.[i] <- m
                            vs.[i] <- v
                            let vhat =
                                if amsgrad then
                                    let old = orZeros vmax.[i]
                                    let mx = Array.init n (fun j -> max old.[j] v.[j])
                                    vmax.[i] <- mx
                                    mx
                                else v
                            let t = float (state.Steps.[i] + 1L)
                            let corr1 = float32 (1.0 / (1.0 - beta1 ** t))
                            let sqrtBc2 = float32 (sqrt (1.0 - beta2 ** t))
                            Array.init n (fun j -> (corr1 * m.[j]) / (sqrt vhat.[j] / sqrtBc2 + epsf)))
                let s = state |> State.setBuffer "exp_avg" ms |> State.setBuffer "exp_avg_sq" vs
                out, (if amsgrad then State.setBuffer "max_exp_avg_sq" vmax s else s) }
