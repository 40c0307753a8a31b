namespace Optim

/// Where a chain's hyperparameters come from, by PyTorch key: its structural flags (<c>"amsgrad"</c>,
/// <c>"maximize"</c>, …), read when the chain is built, and the cells of its values (<c>"lr"</c>, <c>"betas"</c> 0 and
/// 1, …), read at every step. The F# aliases give fixed values; the facade gives a param group's, refreshed before
/// each step, so that one chain per group follows a scheduler without being rebuilt.
[<AbstractClass>]
type internal Hypers() =
    /// A structural flag.
    abstract Flag: key: string -> bool
    /// The cell of a value (index: which of a pair).
    abstract Cell: key: string * index: int -> Cell

/// Fixed hyperparameters: every cell is a constant.
[<Sealed>]
type internal FixedHypers(values: (string * float) list, pairs: (string * (float * float)) list, flags: (string * bool) list) =
    inherit Hypers()
    override _.Flag(key) =
        match List.tryFind (fun (k, _) -> k = key) flags with
        | Some(_, v) -> v
        | None -> invalidArg (nameof key) $"No flag '{key}'."
    override _.Cell(key, index) =
        match List.tryFind (fun (k, _) -> k = key) values, List.tryFind (fun (k, _) -> k = key) pairs with
        | Some(_, v), _ -> Cell.Const v
        | None, Some(_, (a, b)) -> Cell.Const(if index = 0 then a else b)
        | None, None -> invalidArg (nameof key) $"No hyperparameter '{key}'."
    /// A scalar's value, a flag's (1 or 0), or one of a pair's (index 0 or 1).
    member _.Get(key: string, index: int) : float =
        match List.tryFind (fun (k, _) -> k = key) values, List.tryFind (fun (k, _) -> k = key) pairs, List.tryFind (fun (k, _) -> k = key) flags with
        | Some(_, v), _, _ -> v
        | None, Some(_, (a, b)), _ -> if index = 0 then a else b
        | None, None, Some(_, f) -> if f then 1.0 else 0.0
        | None, None, None -> invalidArg (nameof key) $"No hyperparameter '{key}'."

/// <summary>
/// Each built-in optimizer's chain of blocks, written once over its hyperparameters by PyTorch key: the F# aliases
/// (<see cref="T:Optim.Alias"/>) build it over their options, and the facade's classes over each param group.
/// </summary>
module internal Chains =

    let private op (o: ElementwiseOp) = Stages.ofOp o
    let private maximize (h: Hypers) = if h.Flag "maximize" then Blocks.maximize else Transform.identity

    /// `-lr`, the learning-rate block over a cell.
    let learningRate (lr: Cell) = op (ScaleOp("scaleByLearningRate", (fun _ -> -lr.Value), [ lr ]))

    let private weightDecay (h: Hypers) = op (Ops.AddWeightDecay(h.Cell("weight_decay", 0)))

    /// torch.optim.SGD.
    let sgd (h: Hypers) =
        Transform.chain
            [ maximize h
              weightDecay h
              op (Ops.Trace(h.Cell("momentum", 0), h.Cell("dampening", 0), h.Flag "nesterov", false))
              learningRate (h.Cell("lr", 0)) ]

    /// torch.optim.Adam, or AdamW when `decoupled`.
    let adam (decoupled: bool) (h: Hypers) =
        let lr = h.Cell("lr", 0)
        let adam = op (Ops.Adam(h.Cell("betas", 0), h.Cell("betas", 1), h.Cell("eps", 0), h.Flag "amsgrad"))
        if decoupled then
            Transform.chain [ maximize h; adam; learningRate lr; op (Ops.DecoupledWeightDecay(lr, h.Cell("weight_decay", 0))) ]
        else Transform.chain [ maximize h; weightDecay h; adam; learningRate lr ]

    /// torch.optim.Adagrad: the learning rate decays as `lr / (1 + (t-1)·lr_decay)`.
    let adagrad (h: Hypers) =
        let lr, decay = h.Cell("lr", 0), h.Cell("lr_decay", 0)
        Transform.chain
            [ maximize h
              weightDecay h
              op (Ops.Rss(h.Cell("initial_accumulator_value", 0), h.Cell("eps", 0)))
              op (ScaleOp("scaleByLearningRateSchedule", (fun t -> -(lr.Value / (1.0 + float t * decay.Value))), [ lr; decay ])) ]

    /// torch.optim.RMSprop.
    let rmsprop (h: Hypers) =
        Transform.chain
            [ maximize h
              weightDecay h
              op (Ops.Rms(h.Cell("alpha", 0), h.Cell("eps", 0), h.Flag "centered"))
              op (Ops.Trace(h.Cell("momentum", 0), Cell.Const 0.0, false, true))
              learningRate (h.Cell("lr", 0)) ]

    /// torch.optim.Adadelta.
    let adadelta (h: Hypers) =
        Transform.chain [ maximize h; weightDecay h; op (Ops.Adadelta(h.Cell("rho", 0), h.Cell("eps", 0))); learningRate (h.Cell("lr", 0)) ]

    /// torch.optim.Adamax.
    let adamax (h: Hypers) =
        Transform.chain
            [ maximize h; weightDecay h; op (Ops.Adamax(h.Cell("betas", 0), h.Cell("betas", 1), h.Cell("eps", 0))); learningRate (h.Cell("lr", 0)) ]

    /// The weight decay of NAdam and RAdam: coupled, or decoupled (PyTorch 2.x's `decoupled_weight_decay`).
    let private moments (h: Hypers) (scaling: GradientTransformation) =
        let lr = h.Cell("lr", 0)
        if h.Flag "decoupled_weight_decay" then
            Transform.chain [ maximize h; scaling; learningRate lr; op (Ops.DecoupledWeightDecay(lr, h.Cell("weight_decay", 0))) ]
        else Transform.chain [ maximize h; weightDecay h; scaling; learningRate lr ]

    /// torch.optim.NAdam.
    let nadam (h: Hypers) =
        moments h (op (Ops.Nadam(h.Cell("betas", 0), h.Cell("betas", 1), h.Cell("eps", 0), h.Cell("momentum_decay", 0))))

    /// torch.optim.RAdam.
    let radam (h: Hypers) = moments h (op (Ops.Radam(h.Cell("betas", 0), h.Cell("betas", 1), h.Cell("eps", 0))))

    /// torch.optim.ASGD.
    let asgd (h: Hypers) =
        Transform.chain
            [ maximize h
              weightDecay h
              op (Ops.AsgdRate(h.Cell("lr", 0), h.Cell("lambd", 0), h.Cell("alpha", 0)))
              op (Ops.AverageIterates(h.Cell("t0", 0))) ]

    /// torch.optim.Rprop.
    let rprop (h: Hypers) =
        Transform.chain
            [ maximize h
              op (Ops.Rprop(h.Cell("lr", 0), h.Cell("etas", 0), h.Cell("etas", 1), h.Cell("step_sizes", 0), h.Cell("step_sizes", 1)))
              op (ScaleOp("scale(-1)", (fun _ -> -1.0), [])) ]

    /// Lion (not in torch.optim), from blocks that take the values the chain is built with.
    let lion (h: Hypers) =
        let v key index = h.Cell(key, index).Value
        Transform.chain
            [ maximize h
              Blocks.scaleByLion (v "betas" 0) (v "betas" 1)
              Blocks.scaleByLearningRate (v "lr" 0)
              Blocks.decoupledWeightDecay (v "lr" 0) (v "weight_decay" 0) ]

    /// LAMB (not in torch.optim), from blocks that take the values the chain is built with.
    let lamb (h: Hypers) =
        let v key index = h.Cell(key, index).Value
        Transform.chain
            [ maximize h
              Blocks.scaleByAdam (v "betas" 0) (v "betas" 1) (v "eps" 0) false
              Blocks.addWeightDecay (v "weight_decay" 0)
              Blocks.scaleByTrustRatio
              Blocks.scaleByLearningRate (v "lr" 0) ]
