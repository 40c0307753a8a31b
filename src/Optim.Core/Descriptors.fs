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

/// The form of a hyperparameter's value in a param group: a number, a pair (PyTorch's tuple), or a boolean (1 or 0 in
/// a group's indexer).
type internal HyperKind =
    | Scalar = 0
    | Pair = 1
    | Flag = 2

/// Hyperparameter values by PyTorch key, as a descriptor's rules read them: an options record's, a constructor's
/// arguments, or a param group's.
[<AbstractClass>]
type internal HyperValues() =
    /// A scalar's value, a flag's (1 or 0; any non-zero value is true), or one of a pair's (index 0 or 1).
    abstract Get: key: string * index: int -> float
    /// The <c>ParamName</c> of an exception about the key: the argument's camelCase name (options, constructors), or the
    /// key itself (a param group's indexer, whose argument is the key).
    abstract ParamName: key: string -> string

/// One hyperparameter of an optimizer: PyTorch's key, the camelCase name of the argument that sets it, its form, and
/// its default (a scalar or flag: one value, a flag's 1 or 0; a pair: two; none where PyTorch requires the argument).
type internal HyperSpec =
    { Key: string
      Name: string
      Kind: HyperKind
      Default: float[] }

/// A check over the keys it reads: it raises an <c>ArgumentException</c> naming the key (by
/// <see cref="M:Optim.HyperValues.ParamName"/>) and the bad value, with PyTorch's wording.
[<NoEquality; NoComparison>]
type internal HyperRule =
    { Keys: string[]
      Check: HyperValues -> unit }

/// <summary>
/// One built-in optimizer, described once: its kind (PyTorch's class name, the <c>"optimizer"</c> of its state dicts),
/// its hyperparameters in PyTorch's order with their defaults, the rules they must satisfy, the state it keeps per
/// parameter, and its chain of blocks. The F# options, the facade's class and the param groups it holds all read it.
/// </summary>
[<ReferenceEquality>]
type internal Descriptor =
    { Kind: string
      Specs: HyperSpec[]
      Rules: HyperRule[]
      /// PyTorch's per-parameter state keys this optimizer may write, <c>"step"</c> included.
      Buffers: string[]
      /// The values, over the defaults, under which the chain keeps every one of <c>Buffers</c> (AMSGrad, momentum, …).
      EveryBuffer: (string * float[]) list
      /// The chain over hyperparameters read by PyTorch key (<see cref="T:Optim.Chains"/>).
      Chain: Hypers -> GradientTransformation }

    /// The spec of a key, if this optimizer has it.
    member d.TryFind(key: string) : HyperSpec voption =
        let mutable found = ValueNone
        for s in d.Specs do
            if found.IsNone && s.Key = key then found <- ValueSome s
        found

    /// Whether this optimizer has the key, in this form (a pair, or a scalar or flag).
    member d.Owns(key: string, pair: bool) =
        match d.TryFind key with
        | ValueSome s -> (s.Kind = HyperKind.Pair) = pair
        | ValueNone -> false

    /// The camelCase argument name of a key (the key itself if this optimizer has no such key).
    member d.NameOf(key: string) =
        match d.TryFind key with
        | ValueSome s -> s.Name
        | ValueNone -> key

    /// A key's default (one value, or two for a pair).
    member d.Default(key: string) : float[] =
        match d.TryFind key with
        | ValueSome s when s.Default.Length > 0 -> s.Default
        | ValueSome _ -> invalidArg (nameof key) $"{d.Kind} has no default for '{key}': it must be given."
        | ValueNone -> invalidArg (nameof key) $"{d.Kind} has no hyperparameter '{key}'."

    /// A scalar's default.
    member d.Scalar(key: string) : float = (d.Default key).[0]

    /// A pair's default.
    member d.Pair(key: string) : float * float = let v = d.Default key in v.[0], v.[1]

    /// A flag's default.
    member d.Flag(key: string) : bool = (d.Default key).[0] <> 0.0

    /// Reads every key in its form (a group that lacks one: <c>KeyNotFoundException</c>), then checks every rule.
    /// Allocates nothing when the values are valid.
    member d.Validate(values: HyperValues) =
        for s in d.Specs do
            values.Get(s.Key, 0) |> ignore
        for r in d.Rules do
            r.Check values

    /// Checks the rules that read only this key (a group's indexer, which sets one key at a time).
    member d.CheckKey(key: string, values: HyperValues) =
        for r in d.Rules do
            if r.Keys.Length = 1 && r.Keys.[0] = key then r.Check values

    /// Checks fixed values (an options record's) with the arguments' camelCase names.
    member d.ValidateFixed(h: FixedHypers) =
        d.Validate
            { new HyperValues() with
                member _.Get(key, index) = h.Get(key, index)
                member _.ParamName key = d.NameOf key }

    /// The constructor's arguments, one per spec in order (null: the default; a number, a pair as a value tuple, or a
    /// boolean), checked with the arguments' names; returns each spec's value (a flag's as 1 or 0).
    member d.Arguments(args: obj[]) : float[][] =
        if args.Length <> d.Specs.Length then
            invalidArg (nameof args) $"{d.Kind} takes {d.Specs.Length} hyperparameters, but got {args.Length}."
        let values =
            Array.map2
                (fun (s: HyperSpec) (a: obj) ->
                    match s.Kind, a with
                    | _, null -> d.Default s.Key
                    | HyperKind.Scalar, (:? float as v) -> [| v |]
                    | HyperKind.Flag, (:? bool as b) -> [| (if b then 1.0 else 0.0) |]
                    | HyperKind.Pair, (:? struct (float * float) as p) -> let struct (x, y) = p in [| x; y |]
                    | _ -> invalidArg s.Name $"{d.Kind}'s '{s.Key}' takes a {s.Kind}, not {a.GetType().Name}.")
                d.Specs args
        d.Validate
            { new HyperValues() with
                member _.Get(key, index) =
                    let i = d.Specs |> Array.findIndex (fun s -> s.Key = key)
                    values.[i].[min index (values.[i].Length - 1)]
                member _.ParamName key = d.NameOf key }
        values

    /// The defaults with some keys replaced, as fixed values (a required key without a replacement is 0).
    member d.Fixed(overrides: (string * float[]) list) : FixedHypers =
        let value (s: HyperSpec) =
            match List.tryFind (fun (k, _) -> k = s.Key) overrides with
            | Some(_, v) -> v
            | None -> if s.Default.Length = 0 then [| 0.0 |] else s.Default
        let of' kind = d.Specs |> Seq.filter (fun s -> s.Kind = kind) |> List.ofSeq
        FixedHypers(
            [ for s in of' HyperKind.Scalar -> s.Key, (value s).[0] ],
            [ for s in of' HyperKind.Pair -> let v = value s in s.Key, (v.[0], v.[1]) ],
            [ for s in of' HyperKind.Flag -> s.Key, (value s).[0] <> 0.0 ])

    /// The state of new parameters, declaring every buffer this optimizer may keep.
    member d.Init(parameters: Tensor[]) : State = (d.Chain(d.Fixed d.EveryBuffer)).Init parameters

    /// The buffers this optimizer keeps for a parameter of this shape under these values (over the defaults): those its
    /// chain, built with them, declares and whose layout applies to the shape. A probe of the same rank stands in for
    /// the parameter, so nothing of its size is allocated.
    /// A <c>momentum_buffer</c> (declared by the momentum trace whatever the momentum) is among them only with a momentum
    /// other than 0, and never for SGD: PyTorch's SGD saves it as <c>None</c> until a step with momentum creates it, at
    /// whatever step count, so a state without it is complete.
    member d.KeptBuffers(values: (string * float[]) list, shape: int[]) : string[] =
        let probe = Tensor.zeros (Array.map (fun e -> min e 1) shape)
        let s = (d.Chain(d.Fixed values)).Init [| probe |]
        let momentum =
            match List.tryFind (fun (k, _) -> k = "momentum") values, d.TryFind "momentum" with
            | Some(_, v), _ when v.Length > 0 -> v.[0]
            | _, ValueSome spec when spec.Default.Length > 0 -> spec.Default.[0]
            | _ -> 0.0
        let optional name = name = "momentum_buffer" && (d.Kind = "SGD" || momentum = 0.0)
        [| for KeyValue(name, _) in s.Buffers do
             match BufferLayout.shapeOf (State.layout name s) shape with
             | ValueSome _ when not (optional name) -> yield name
             | _ -> () |]

/// Every built-in optimizer's descriptor.
[<RequireQualifiedAccess>]
module internal Descriptors =

    let private scalar key name (value: float) = { Key = key; Name = name; Kind = HyperKind.Scalar; Default = [| value |] }
    let private required key name = { Key = key; Name = name; Kind = HyperKind.Scalar; Default = [||] }
    let private pair key name (a: float, b: float) = { Key = key; Name = name; Kind = HyperKind.Pair; Default = [| a; b |] }
    let private flag key name (value: bool) = { Key = key; Name = name; Kind = HyperKind.Flag; Default = [| (if value then 1.0 else 0.0) |] }

    let private rule keys check = { Keys = keys; Check = check }
    let private nonNegative key = rule [| key |] (fun v -> Validate.nonNegative (v.ParamName key) key (v.Get(key, 0)))
    let private closedUnitInterval key = rule [| key |] (fun v -> Validate.closedUnitInterval (v.ParamName key) key (v.Get(key, 0)))

    /// Both of a pair in [0, 1) (betas), or the first in [0, 1] when `closedFirst` (Lion's).
    let private betas closedFirst =
        rule [| "betas" |] (fun v ->
            let name = v.ParamName "betas"
            if closedFirst then Validate.closedUnitInterval name "betas[0]" (v.Get("betas", 0))
            else Validate.unitInterval name "betas[0]" (v.Get("betas", 0))
            Validate.unitInterval name "betas[1]" (v.Get("betas", 1)))

    let private lr = nonNegative "lr"
    let private eps = nonNegative "eps"
    let private weightDecay = nonNegative "weight_decay"

    let private maximize = flag "maximize" "maximize" false
    let private weightDecayOf value = scalar "weight_decay" "weightDecay" value
    let private betasOf value = pair "betas" "betas" value

    let private describe kind specs rules buffers everyBuffer chain =
        { Kind = kind; Specs = Array.ofList specs; Rules = Array.ofList rules; Buffers = Array.ofList buffers
          EveryBuffer = everyBuffer; Chain = chain }

    /// torch.optim.SGD: <c>lr</c> has no default, as in PyTorch 1.13. PyTorch keeps no <c>"step"</c> for SGD; this
    /// library counts every optimizer's steps and writes them.
    let sgd =
        describe "SGD"
            [ required "lr" "lr"; scalar "momentum" "momentum" 0.0; scalar "dampening" "dampening" 0.0; weightDecayOf 0.0
              flag "nesterov" "nesterov" false; maximize ]
            [ lr; nonNegative "momentum"; nonNegative "dampening"; weightDecay
              rule [| "nesterov"; "momentum"; "dampening" |] (fun v ->
                  let momentum, dampening = v.Get("momentum", 0), v.Get("dampening", 0)
                  if v.Get("nesterov", 0) <> 0.0 && (momentum <= 0.0 || dampening <> 0.0) then
                      invalidArg (v.ParamName "nesterov")
                          $"Nesterov momentum requires a momentum and zero dampening (momentum={momentum}, dampening={dampening}).") ]
            [ "step"; "momentum_buffer" ]
            [ "momentum", [| 0.9 |] ]
            Chains.sgd

    let private adamFamily kind decay decoupled =
        describe kind
            [ scalar "lr" "lr" 1e-3; betasOf (0.9, 0.999); scalar "eps" "eps" 1e-8; weightDecayOf decay
              flag "amsgrad" "amsgrad" false; maximize ]
            [ lr; eps; betas false; weightDecay ]
            [ "step"; "exp_avg"; "exp_avg_sq"; "max_exp_avg_sq" ]
            [ "amsgrad", [| 1.0 |] ]
            (Chains.adam decoupled)

    /// torch.optim.Adam.
    let adam = adamFamily "Adam" 0.0 false

    /// torch.optim.AdamW: Adam's keys and rules, weight decay 1e-2 and decoupled.
    let adamw = adamFamily "AdamW" 1e-2 true

    /// torch.optim.Adagrad.
    let adagrad =
        describe "Adagrad"
            [ scalar "lr" "lr" 1e-2; scalar "lr_decay" "lrDecay" 0.0; weightDecayOf 0.0
              scalar "initial_accumulator_value" "initialAccumulatorValue" 0.0; scalar "eps" "eps" 1e-10; maximize ]
            [ lr; nonNegative "lr_decay"; weightDecay; nonNegative "initial_accumulator_value"; eps ]
            [ "step"; "sum" ]
            []
            Chains.adagrad

    /// torch.optim.RMSprop.
    let rmsprop =
        describe "RMSprop"
            [ scalar "lr" "lr" 1e-2; scalar "alpha" "alpha" 0.99; scalar "eps" "eps" 1e-8; weightDecayOf 0.0
              scalar "momentum" "momentum" 0.0; flag "centered" "centered" false; maximize ]
            [ lr; nonNegative "alpha"; eps; weightDecay; nonNegative "momentum" ]
            [ "step"; "square_avg"; "momentum_buffer"; "grad_avg" ]
            [ "momentum", [| 0.9 |]; "centered", [| 1.0 |] ]
            Chains.rmsprop

    /// torch.optim.Adadelta.
    let adadelta =
        describe "Adadelta"
            [ scalar "lr" "lr" 1.0; scalar "rho" "rho" 0.9; scalar "eps" "eps" 1e-6; weightDecayOf 0.0; maximize ]
            [ lr; closedUnitInterval "rho"; eps; weightDecay ]
            [ "step"; "square_avg"; "acc_delta" ]
            []
            Chains.adadelta

    /// torch.optim.Adamax.
    let adamax =
        describe "Adamax"
            [ scalar "lr" "lr" 2e-3; betasOf (0.9, 0.999); scalar "eps" "eps" 1e-8; weightDecayOf 0.0; maximize ]
            [ lr; eps; betas false; weightDecay ]
            [ "step"; "exp_avg"; "exp_inf" ]
            []
            Chains.adamax

    /// torch.optim.NAdam, with PyTorch 2.x's <c>decoupled_weight_decay</c> and <c>maximize</c>.
    let nadam =
        describe "NAdam"
            [ scalar "lr" "lr" 2e-3; betasOf (0.9, 0.999); scalar "eps" "eps" 1e-8; weightDecayOf 0.0
              scalar "momentum_decay" "momentumDecay" 4e-3; flag "decoupled_weight_decay" "decoupledWeightDecay" false; maximize ]
            [ lr; eps; betas false; weightDecay; nonNegative "momentum_decay" ]
            [ "step"; "mu_product"; "exp_avg"; "exp_avg_sq" ]
            []
            Chains.nadam

    /// torch.optim.RAdam, with PyTorch 2.x's <c>decoupled_weight_decay</c> and <c>maximize</c>.
    let radam =
        describe "RAdam"
            [ scalar "lr" "lr" 1e-3; betasOf (0.9, 0.999); scalar "eps" "eps" 1e-8; weightDecayOf 0.0
              flag "decoupled_weight_decay" "decoupledWeightDecay" false; maximize ]
            [ lr; eps; betas false; weightDecay ]
            [ "step"; "exp_avg"; "exp_avg_sq" ]
            []
            Chains.radam

    /// torch.optim.ASGD. PyTorch leaves <c>lambd</c>, <c>alpha</c> and <c>t0</c> unchecked; negative or non-finite
    /// values of those make no sense either (a negative <c>lambd</c> grows the parameters) and are rejected too.
    let asgd =
        describe "ASGD"
            [ scalar "lr" "lr" 1e-2; scalar "lambd" "lambd" 1e-4; scalar "alpha" "alpha" 0.75; scalar "t0" "t0" 1e6
              weightDecayOf 0.0; maximize ]
            [ lr; nonNegative "lambd"; nonNegative "alpha"; nonNegative "t0"; weightDecay ]
            [ "step"; "eta"; "mu"; "ax" ]
            []
            Chains.asgd

    /// torch.optim.Rprop: <c>0 &lt; etas[0] &lt; 1 &lt; etas[1]</c>, as PyTorch checks. PyTorch leaves <c>step_sizes</c>
    /// unchecked; they must also satisfy <c>0 ≤ step_sizes[0] ≤ step_sizes[1]</c> here, because a reversed range
    /// silently pins every step size to the maximum.
    let rprop =
        describe "Rprop"
            [ scalar "lr" "lr" 1e-2; pair "etas" "etas" (0.5, 1.2); pair "step_sizes" "stepSizes" (1e-6, 50.0); maximize ]
            [ lr
              rule [| "etas" |] (fun v ->
                  let name, etaMinus, etaPlus = v.ParamName "etas", v.Get("etas", 0), v.Get("etas", 1)
                  if not (etaMinus > 0.0 && etaMinus < 1.0) then
                      raise (ArgumentOutOfRangeException(name, etaMinus, $"Invalid etas[0] value: {etaMinus}; it must be in (0, 1)."))
                  if not (etaPlus > 1.0 && Double.IsFinite etaPlus) then
                      raise (ArgumentOutOfRangeException(name, etaPlus, $"Invalid etas[1] value: {etaPlus}; it must be a finite number above 1.")))
              rule [| "step_sizes" |] (fun v ->
                  let name, lo, hi = v.ParamName "step_sizes", v.Get("step_sizes", 0), v.Get("step_sizes", 1)
                  Validate.nonNegative name "step_sizes[0]" lo
                  Validate.nonNegative name "step_sizes[1]" hi
                  if lo > hi then
                      raise (ArgumentOutOfRangeException(name, lo, $"Invalid step_sizes value: ({lo}, {hi}); the minimum must not exceed the maximum."))) ]
            [ "step"; "prev"; "step_size" ]
            []
            Chains.rprop

    /// Lion (not in torch.optim; the defaults of the paper's reference code); no facade class.
    let lion =
        describe "Lion"
            [ scalar "lr" "lr" 1e-4; betasOf (0.9, 0.99); weightDecayOf 0.0; maximize ]
            [ lr; betas true; weightDecay ]
            [ "step"; "exp_avg" ]
            []
            Chains.lion

    /// LAMB (not in torch.optim; the defaults of <c>optax.lamb</c>); no facade class.
    let lamb =
        describe "Lamb"
            [ scalar "lr" "lr" 1e-3; betasOf (0.9, 0.999); scalar "eps" "eps" 1e-6; weightDecayOf 0.0; maximize ]
            [ lr; eps; betas false; weightDecay ]
            [ "step"; "exp_avg"; "exp_avg_sq" ]
            []
            Chains.lamb

    /// The optimizers of torch.optim described here, each with its facade class.
    let torch = [| sgd; adam; adamw; adagrad; rmsprop; adadelta; adamax; nadam; radam; asgd; rprop |]

    /// Whether some optimizer of torch.optim takes this key as a pair.
    let isPair (key: string) = torch |> Array.exists (fun d -> d.Owns(key, true))

    /// Checks one key of a group no descriptor holds (not yet added to an optimizer, or a subclass's or a composed
    /// optimizer's) by the rules of every optimizer of torch.optim that has the key in this form; they agree.
    let checkKey (key: string) (pair: bool) (values: HyperValues) =
        for d in torch do
            if d.Owns(key, pair) then d.CheckKey(key, values)
