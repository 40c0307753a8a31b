namespace Optim

open System
open System.IO
open System.Text
open System.Text.Json

/// <summary>A hyperparameter value as a param group stores it.</summary>
type HyperValue =
    /// <summary>A scalar (<c>lr</c>, <c>momentum</c>, <c>eps</c>, …).</summary>
    | Number of float
    /// <summary>A boolean option (<c>nesterov</c>, <c>amsgrad</c>, <c>maximize</c>, …).</summary>
    | Flag of bool
    /// <summary>A pair (<c>betas</c>, <c>etas</c>, <c>step_sizes</c>).</summary>
    | Pair of float * float
    /// <summary>A triple (Muon's <c>ns_coefficients</c>).</summary>
    | Triple of float * float * float
    /// <summary>A string option (<c>line_search_fn</c>).</summary>
    | Text of string
    /// <summary>PyTorch's <c>None</c>.</summary>
    | Absent

/// <summary>One param group in a checkpoint: its hyperparameters, in order, and its parameters' indices.</summary>
type GroupRecord =
    { /// <summary>Hyperparameters by PyTorch key, in insertion order.</summary>
      Hyper: (string * HyperValue)[]
      /// <summary>The indices of the group's parameters in the optimizer's numbering.</summary>
      Params: int[] }

/// <summary>
/// A serialisable snapshot of an optimizer in PyTorch's <c>state_dict()</c> layout (<c>state</c> by parameter
/// index, <c>param_groups</c> with hyperparameters and parameter indices), plus the optimizer's kind and the
/// parameters' names and shapes, so that loading into another optimizer, reordered or reshaped parameters
/// fails clearly instead of silently mis-mapping (pytorch#1489). The facade's <c>StateDict</c> wraps one.
/// </summary>
type Checkpoint =
    { /// <summary>The optimizer's kind, its PyTorch class name (<c>"Adam"</c>).</summary>
      Kind: string
      /// <summary>The optimizer state.</summary>
      State: State
      /// <summary>The param groups.</summary>
      Groups: GroupRecord[]
      /// <summary>Per parameter, its name or null.</summary>
      Names: string[]
      /// <summary>Per parameter, its shape.</summary>
      Shapes: int[][] }

/// <summary>The error raised for a checkpoint that is malformed or does not fit the optimizer it is loaded into.</summary>
type CheckpointException
    /// <summary>An error saying what is wrong with a checkpoint.</summary>
    /// <param name="message">What is wrong.</param>
    (message: string) =
    inherit ArgumentException(message, "state")

/// <summary>JSON conversion and validation of <see cref="T:Optim.Checkpoint"/>.</summary>
[<RequireQualifiedAccess>]
module Checkpoint =

    let private fail msg = raise (CheckpointException msg)

    /// Writes a double as a JSON number, or as PyTorch's strings "NaN", "Infinity" and "-Infinity" (also LbfgsCheckpoint's).
    let internal writeFloat (w: Utf8JsonWriter) (x: float) =
        if Double.IsFinite x then w.WriteNumberValue x
        elif Double.IsNaN x then w.WriteStringValue "NaN"
        elif x > 0.0 then w.WriteStringValue "Infinity"
        else w.WriteStringValue "-Infinity"

    /// Writes a float32 as writeFloat does, from its exact value.
    let internal writeSingle (w: Utf8JsonWriter) (x: float32) =
        if Single.IsFinite x then w.WriteNumberValue x else writeFloat w (float x)

    /// <summary>Whether parameter <paramref name="i"/> has any state (PyTorch omits those that have none).</summary>
    let private hasState (s: State) (i: int) =
        s.Steps.[i] > 0L || s.Buffers |> Map.exists (fun _ b -> not (isNull b.[i]))

    /// <summary>Writes a checkpoint as JSON in PyTorch's <c>state_dict</c> layout.</summary>
    /// <param name="c">The checkpoint.</param>
    /// <returns>The JSON text.</returns>
    let toJson (c: Checkpoint) : string =
        use ms = new MemoryStream()
        (
            use w = new Utf8JsonWriter(ms)
            w.WriteStartObject()
            w.WriteString("optimizer", c.Kind)
            w.WriteStartObject "state"
            for i in 0 .. c.State.Steps.Length - 1 do
                if hasState c.State i then
                    w.WriteStartObject(string i)
                    w.WriteNumber("step", c.State.Steps.[i])
                    for KeyValue(name, b) in c.State.Buffers do
                        if not (isNull b.[i]) then
                            let writeData (key: string) =
                                w.WriteStartArray key
                                for x in b.[i] do writeSingle w x
                                w.WriteEndArray()
                            // a buffer of another shape than its parameter's carries its shape, so a load can check it
                            match State.layout name c.State with
                            | BufferLayout.Reduced _ as layout ->
                                w.WriteStartObject name
                                w.WriteStartArray "shape"
                                match BufferLayout.shapeOf layout c.Shapes.[i] with
                                | ValueSome shape -> for d in shape do w.WriteNumberValue d
                                | ValueNone -> w.WriteNumberValue b.[i].Length
                                w.WriteEndArray()
                                writeData "data"
                                w.WriteEndObject()
                            | _ -> writeData name
                    w.WriteEndObject()
            w.WriteEndObject()
            if not c.State.Globals.IsEmpty then
                w.WriteStartObject "global"
                for KeyValue(name, v) in c.State.Globals do
                    w.WritePropertyName name
                    writeFloat w v.[0]
                w.WriteEndObject()
            w.WriteStartArray "param_groups"
            for g in c.Groups do
                w.WriteStartObject()
                // PyTorch 2.x's param_names, first as there, when every parameter of the group is named
                let groupNames = g.Params |> Array.map (fun p -> if p >= 0 && p < c.Names.Length then c.Names.[p] else null)
                if groupNames.Length > 0 && Array.forall (isNull >> not) groupNames then
                    w.WriteStartArray "param_names"
                    for n in groupNames do w.WriteStringValue n
                    w.WriteEndArray()
                for key, v in g.Hyper do
                    w.WritePropertyName key
                    match v with
                    | Number x -> writeFloat w x
                    | Flag b -> w.WriteBooleanValue b
                    | Pair (a, b) -> w.WriteStartArray(); writeFloat w a; writeFloat w b; w.WriteEndArray()
                    | Triple (a, b, c) -> w.WriteStartArray(); writeFloat w a; writeFloat w b; writeFloat w c; w.WriteEndArray()
                    | Text s -> w.WriteStringValue s
                    | Absent -> w.WriteNullValue()
                w.WriteStartArray "params"
                for p in g.Params do w.WriteNumberValue p
                w.WriteEndArray()
                w.WriteEndObject()
            w.WriteEndArray()
            w.WriteStartArray "param_names"
            for n in c.Names do if isNull n then w.WriteNullValue() else w.WriteStringValue n
            w.WriteEndArray()
            w.WriteStartArray "param_shapes"
            for s in c.Shapes do
                w.WriteStartArray()
                for d in s do w.WriteNumberValue d
                w.WriteEndArray()
            w.WriteEndArray()
            w.WriteEndObject()
        )
        Encoding.UTF8.GetString(ms.ToArray())

    /// Reads what writeFloat wrote; `where` names the place in error messages.
    let internal readFloat (where: string) (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number -> e.GetDouble()
        | JsonValueKind.String ->
            match e.GetString() with
            | "NaN" -> nan
            | "Infinity" -> infinity
            | "-Infinity" -> -infinity
            | s -> fail $"Malformed state dict: {where} holds the string '{s}' where a number belongs."
        | k -> fail $"Malformed state dict: {where} holds a {k} where a number belongs."

    let private prop (where: string) (name: string) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Object then fail $"Malformed state dict: {where} must be an object."
        match e.TryGetProperty name with
        | true, v -> v
        | _ -> fail $"Malformed state dict: {where} has no '{name}'."

    let private arrayOf (where: string) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Array then fail $"Malformed state dict: {where} must be an array."
        [| for x in e.EnumerateArray() -> x |]

    let private readInt (where: string) (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number ->
            match e.TryGetInt32() with
            | true, v -> v
            | _ -> fail $"Malformed state dict: {where} must be a whole number, but is {e.GetRawText()}."
        | k -> fail $"Malformed state dict: {where} must be a whole number, but is a {k}."

    /// <summary>The largest step count a state dict may hold: 2⁵³, the last whole number a double (PyTorch's
    /// float <c>step</c> tensor) counts exactly, and far below where an <c>int64</c> counter would wrap.</summary>
    [<Literal>]
    let MaxStep = 9007199254740992.0

    /// A parameter shape, checked: extents of 0 or more whose product fits an array (checked before anything is allocated).
    let private readShape (where: string) (e: JsonElement) =
        let shape = arrayOf where e |> Array.map (readInt where)
        let mutable n = 1L
        for d in shape do
            if d < 0 then fail $"Malformed state dict: {where} is {Tensor.formatShape shape}, with a negative extent."
            n <- n * int64 d
            if n > int64 Array.MaxLength then
                fail $"Malformed state dict: {where} is {Tensor.formatShape shape}, which holds more elements than an array can."
        shape

    /// Buffers whose every element is 0 or more in any state an optimizer can reach (running squares and sums,
    /// step sizes, learning rates), so that a negative one is a corrupt state dict, not a state.
    let private nonNegativeBuffers =
        set [ "exp_avg_sq"; "max_exp_avg_sq"; "square_avg"; "sum"; "acc_delta"; "exp_inf"; "step_size"; "eta"
              "row_var"; "col_var"; "variance" ]

    /// Fails on an object anywhere in the document that holds a key twice: JSON readers differ on which one wins, so
    /// such a document has no one meaning.
    let rec private checkUnique (where: string) (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Object ->
            let seen = Collections.Generic.HashSet<string>()
            for p in e.EnumerateObject() do
                let path = if where = "" then p.Name else $"{where}.{p.Name}"
                if not (seen.Add p.Name) then fail $"Malformed state dict: the key '{path}' appears twice."
                checkUnique path p.Value
        | JsonValueKind.Array ->
            let mutable i = 0
            for x in e.EnumerateArray() do
                checkUnique $"{where}[{i}]" x
                i <- i + 1
        | _ -> ()

    /// <summary>Reads a checkpoint from JSON written by <see cref="M:Optim.CheckpointModule.toJson(Optim.Checkpoint)"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The checkpoint; its state declares the buffer names found in the text.</returns>
    /// <exception cref="T:Optim.CheckpointException">The text is not JSON or not a state dict; the message says where.</exception>
    let ofJson (json: string) : Checkpoint =
        if isNull json then nullArg (nameof json)
        let doc =
            try JsonDocument.Parse json
            with :? JsonException as e -> fail $"Malformed state dict: not valid JSON ({e.Message})"
        use doc = doc
        let root = doc.RootElement
        checkUnique "" root
        let kind =
            match (prop "the document" "optimizer" root).ValueKind with
            | JsonValueKind.String -> (prop "the document" "optimizer" root).GetString()
            | _ -> fail "Malformed state dict: 'optimizer' must be a string."
        let shapes =
            arrayOf "param_shapes" (prop "the document" "param_shapes" root)
            |> Array.mapi (fun i s -> readShape $"param_shapes[{i}]" s)
        let n = shapes.Length
        let names =
            let a = arrayOf "param_names" (prop "the document" "param_names" root)
            if a.Length <> n then fail $"Malformed state dict: {a.Length} param_names for {n} param_shapes."
            a |> Array.mapi (fun i e ->
                match e.ValueKind with
                | JsonValueKind.Null -> null
                | JsonValueKind.String -> e.GetString()
                | _ -> fail $"Malformed state dict: param_names[{i}] must be a string or null.")
        let groups =
            arrayOf "param_groups" (prop "the document" "param_groups" root)
            |> Array.mapi (fun gi g ->
                let where = $"param_groups[{gi}]"
                if g.ValueKind <> JsonValueKind.Object then fail $"Malformed state dict: {where} must be an object."
                let ps = arrayOf $"{where}.params" (prop where "params" g) |> Array.map (readInt $"{where}.params")
                match g.TryGetProperty "param_names" with
                | true, e ->
                    let groupNames = arrayOf $"{where}.param_names" e
                    if groupNames.Length <> ps.Length then
                        fail $"Malformed state dict: {where} has {groupNames.Length} param_names for {ps.Length} params."
                    groupNames |> Array.iteri (fun k e ->
                        if e.ValueKind <> JsonValueKind.String then fail $"Malformed state dict: {where}.param_names[{k}] must be a string."
                        let name, p = e.GetString(), ps.[k]
                        // a group's names and the list of all names say the same, or one of them is silent
                        if p >= 0 && p < n then
                            if isNull names.[p] then names.[p] <- name
                            elif names.[p] <> name then
                                fail $"Malformed state dict: {where}.param_names[{k}] is '{name}', but param_names[{p}] is '{names.[p]}'.")
                | _ -> ()
                let hyper =
                    [| for p in g.EnumerateObject() do
                         if p.Name <> "params" && p.Name <> "param_names" then
                             let w = $"{where}.{p.Name}"
                             let v =
                                 match p.Value.ValueKind with
                                 | JsonValueKind.True -> Flag true
                                 | JsonValueKind.False -> Flag false
                                 | JsonValueKind.Null -> Absent
                                 | JsonValueKind.Array ->
                                     match arrayOf w p.Value with
                                     | [| a; b |] -> Pair(readFloat w a, readFloat w b)
                                     | [| a; b; c |] -> Triple(readFloat w a, readFloat w b, readFloat w c)
                                     | _ -> fail $"Malformed state dict: {w} must be a pair or a triple."
                                 | JsonValueKind.String ->
                                     match p.Value.GetString() with
                                     | "NaN" | "Infinity" | "-Infinity" -> Number(readFloat w p.Value)
                                     | s -> Text s
                                 | _ -> Number(readFloat w p.Value)
                             yield p.Name, v |]
                { Hyper = hyper; Params = ps })
        let globals =
            match root.TryGetProperty "global" with
            | true, g ->
                if g.ValueKind <> JsonValueKind.Object then fail "Malformed state dict: 'global' must be an object."
                g.EnumerateObject() |> Seq.fold (fun (m: Map<string, float[]>) p ->
                    if m.ContainsKey p.Name then fail $"Malformed state dict: global.{p.Name} appears twice."
                    if p.Value.ValueKind <> JsonValueKind.Number then fail $"Malformed state dict: global.{p.Name} must be a number."
                    m.Add(p.Name, [| readFloat $"global.{p.Name}" p.Value |])) Map.empty
            | _ -> Map.empty
        let steps = Array.zeroCreate<int64> n
        let buffers = Collections.Generic.Dictionary<string, float32[][]>()
        // per buffer name, the dimension a recorded shape reduces (when one does), and the entry that showed it
        let reduced = Collections.Generic.Dictionary<string, struct (int * string)>()
        for entry in (let s = prop "the document" "state" root in (if s.ValueKind <> JsonValueKind.Object then fail "Malformed state dict: 'state' must be an object."); s.EnumerateObject()) do
            let i =
                match Int32.TryParse entry.Name with
                | true, i when i >= 0 && i < n -> i
                | _ -> fail $"Malformed state dict: state key '{entry.Name}' is not a parameter index below {n}."
            if entry.Value.ValueKind <> JsonValueKind.Object then fail $"Malformed state dict: state[{i}] must be an object."
            // PyTorch's SGD and Muon keep no step (their state is the momentum buffer alone); every other optimizer does
            match entry.Value.TryGetProperty "step" with
            | true, _ -> ()
            | _ when kind = "SGD" || kind = "Muon" -> ()
            | _ -> fail $"Malformed state dict: state[{i}] has no 'step'."
            for field in entry.Value.EnumerateObject() do
                let where = $"state[{i}].{field.Name}"
                if field.Name = "step" then
                    if field.Value.ValueKind <> JsonValueKind.Number then
                        fail $"Malformed state dict: {where} must be a whole number from 0 to 2^53, but is a {field.Value.ValueKind}."
                    // read exactly (a double would round 2^53 + 1 to 2^53)
                    match field.Value.TryGetDecimal() with
                    | true, v when v >= 0M && v <= 9007199254740992M && v = Math.Floor v -> steps.[i] <- int64 v
                    | _ -> fail $"Malformed state dict: {where} must be a whole number from 0 to 2^53, but is {field.Value.GetRawText()}."
                else
                    let values =
                        if field.Value.ValueKind = JsonValueKind.Object then
                            // a buffer that carries its shape: the parameter's shape with one dimension reduced to 1
                            let shape = readShape $"{where}.shape" (prop where "shape" field.Value)
                            let values = arrayOf $"{where}.data" (prop where "data" field.Value) |> Array.map (readFloat where >> float32)
                            let p = shapes.[i]
                            if shape |> Array.exists (fun d -> d < 0) || values.Length <> Tensor.numel shape then
                                fail $"Malformed state dict: {where} has {values.Length} elements, but its shape is {Tensor.formatShape shape}."
                            let differing = [ for k in 0 .. p.Length - 1 do if k < shape.Length && shape.[k] <> p.[k] then k ]
                            match differing with
                            | _ when shape.Length <> p.Length || p.Length < 2 ->
                                fail $"Malformed state dict: {where} has shape {Tensor.formatShape shape}, which is not parameter {i}'s shape {Tensor.formatShape p} with one dimension reduced to 1."
                            | [] -> ()
                            | [ k ] when shape.[k] = 1 ->
                                let dim = k - p.Length
                                match reduced.TryGetValue field.Name with
                                | true, struct (other, seen) when other <> dim ->
                                    fail $"Malformed state dict: {where} has shape {Tensor.formatShape shape}, which reduces another dimension than {seen}."
                                | _ -> reduced.[field.Name] <- struct (dim, where)
                            | _ ->
                                fail $"Malformed state dict: {where} has shape {Tensor.formatShape shape}, which is not parameter {i}'s shape {Tensor.formatShape p} with one dimension reduced to 1."
                            values
                        else
                            let values = arrayOf where field.Value |> Array.map (readFloat where >> float32)
                            let expected = Tensor.numel shapes.[i]
                            // 1 element is a per-parameter scalar (ASGD's eta); conform checks which buffers may be one
                            if values.Length <> expected && values.Length <> 1 then
                                fail $"Malformed state dict: {where} has {values.Length} elements, but parameter {i} has shape {Tensor.formatShape shapes.[i]}."
                            values
                    if nonNegativeBuffers.Contains field.Name then
                        match Array.tryFindIndex (fun (x: float32) -> x < 0.0f) values with
                        | Some k -> fail $"Malformed state dict: {where}[{k}] is {values.[k]}, but this buffer is never negative."
                        | None -> ()
                    if not (buffers.ContainsKey field.Name) then buffers.[field.Name] <- Array.zeroCreate n
                    buffers.[field.Name].[i] <- values
        { Kind = kind
          State =
            { Steps = steps
              Buffers = buffers |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
              Layouts = reduced |> Seq.map (fun kv -> let struct (dim, _) = kv.Value in kv.Key, BufferLayout.Reduced dim) |> Map.ofSeq
              Globals = globals
              Shapes = Array.map Array.copy shapes }
          Groups = groups
          Names = names
          Shapes = shapes }

    /// <summary>
    /// Checks that every parameter the checkpoint holds state for has all of that state: its step and every buffer
    /// <paramref name="kept"/> names for it. PyTorch's step fails on a missing one; refilling it with a fresh one would
    /// resume from another state than the one saved, so a load fails instead.
    /// </summary>
    /// <param name="kind">The loading optimizer's kind, for the message.</param>
    /// <param name="kept">Per parameter, the buffers its group keeps under the checkpoint's hyperparameters, or null
    /// where the optimizer cannot say (then nothing is required).</param>
    /// <param name="c">The checkpoint, already read.</param>
    /// <exception cref="T:Optim.CheckpointException">A buffer is missing; the message names it and the parameter.</exception>
    let checkComplete (kind: string) (kept: string[][]) (c: Checkpoint) : unit =
        for i in 0 .. min kept.Length c.State.Steps.Length - 1 do
            if not (isNull kept.[i]) && hasState c.State i then
                for name in kept.[i] do
                    match c.State.Buffers.TryFind name with
                    | Some b when not (isNull b.[i]) -> ()
                    | _ -> fail $"The state dict's state of parameter {i} lacks '{name}', which a {kind} optimizer keeps for it under the state dict's hyperparameters."

    /// <summary>
    /// Checks that a checkpoint fits an optimizer (its kind, parameter count, shapes and names, group
    /// layout, buffer names), and returns the checkpoint's state laid out like <paramref name="template"/>.
    /// </summary>
    /// <param name="kind">The loading optimizer's kind.</param>
    /// <param name="template">The loading optimizer's freshly initialised state: it declares the buffer names and which
    /// of them hold one value per parameter, and gives the state of parameters the checkpoint holds none for.</param>
    /// <param name="shapes">The loading optimizer's parameter shapes.</param>
    /// <param name="names">The loading optimizer's parameter names (null where unnamed).</param>
    /// <param name="groupSizes">How many parameters each of its groups holds, in order.</param>
    /// <param name="c">The checkpoint.</param>
    /// <exception cref="T:Optim.CheckpointException">Anything does not fit; the message says what.</exception>
    let conform (kind: string) (template: State) (shapes: int[][]) (names: string[]) (groupSizes: int[]) (c: Checkpoint) : State =
        if c.Kind <> kind then fail $"This state dict is from a {c.Kind} optimizer and cannot be loaded into a {kind} optimizer."
        if c.Shapes.Length <> shapes.Length then
            fail $"This state dict holds {c.Shapes.Length} parameters, but the optimizer has {shapes.Length}."
        if c.Groups.Length <> groupSizes.Length then
            fail $"This state dict holds {c.Groups.Length} param groups, but the optimizer has {groupSizes.Length}."
        let mutable next = 0
        for gi in 0 .. groupSizes.Length - 1 do
            let expected = Array.init groupSizes.[gi] (fun k -> next + k)
            next <- next + groupSizes.[gi]
            if c.Groups.[gi].Params <> expected then
                fail $"Param group {gi} of this state dict holds parameters {Tensor.formatShape c.Groups.[gi].Params}, but the optimizer's holds {Tensor.formatShape expected}."
        for i in 0 .. shapes.Length - 1 do
            if c.Shapes.[i] <> shapes.[i] then
                fail $"Parameter {i} has shape {Tensor.formatShape shapes.[i]}, but the state dict's has shape {Tensor.formatShape c.Shapes.[i]}."
            if not (isNull names.[i]) && not (isNull c.Names.[i]) && names.[i] <> c.Names.[i] then
                fail $"Parameter {i} is named '{names.[i]}', but the state dict's parameter {i} is '{c.Names.[i]}'."
        for KeyValue(name, _) in c.State.Globals do
            if not (template.Globals.ContainsKey name) then
                let known = String.concat ", " (Map.keys template.Globals)
                fail $"The state dict holds an optimizer-wide value '{name}' that this {kind} optimizer does not keep (it keeps: {known})."
        for KeyValue(name, _) in template.Globals do
            if not (c.State.Globals.ContainsKey name) then
                fail $"The state dict lacks the optimizer-wide value '{name}' that this {kind} optimizer keeps."
        for KeyValue(name, _) in c.State.Buffers do
            if not (template.Buffers.ContainsKey name) then
                let known = String.concat ", " (Map.keys template.Buffers)
                fail $"The state dict holds a buffer '{name}' that a {kind} optimizer does not keep (it keeps: {known})."
        for KeyValue(name, b) in c.State.Buffers do
            let layout = State.layout name template
            for i in 0 .. b.Length - 1 do
                let a = b.[i]
                if not (isNull a) then
                    match BufferLayout.shapeOf layout shapes.[i] with
                    | ValueNone ->
                        fail $"The state dict holds a buffer '{name}' for parameter {i}, but a {kind} optimizer keeps none for a parameter of shape {Tensor.formatShape shapes.[i]}."
                    | ValueSome expected ->
                        let what =
                            match layout with
                            | BufferLayout.Scalar -> "one value per parameter"
                            | BufferLayout.Elementwise -> $"one value per element of shape {Tensor.formatShape shapes.[i]}"
                            | BufferLayout.Reduced _ -> $"shape {Tensor.formatShape expected}"
                        if a.Length <> Tensor.numel expected then
                            fail $"The state dict's buffer '{name}' of parameter {i} has {a.Length} elements, but a {kind} optimizer keeps {what} there."
                        // the shape the state dict recorded for the buffer, when it recorded a reduced one
                        match layout, c.State.Layouts.TryFind name with
                        | BufferLayout.Reduced _, Some recordedLayout ->
                            match BufferLayout.shapeOf recordedLayout shapes.[i] with
                            | ValueSome recorded when recorded <> expected ->
                                fail $"The state dict's buffer '{name}' of parameter {i} has shape {Tensor.formatShape recorded}, but a {kind} optimizer keeps {what} there."
                            | _ -> ()
                        | _ -> ()
        { template with
            Steps = Array.copy c.State.Steps
            Globals = c.State.Globals |> Map.map (fun _ v -> Array.copy v)
            Buffers =
            // a parameter the checkpoint holds no buffer for keeps the template's (fresh) one, which is null
            // unless the optimizer creates its state eagerly, as Adagrad does
            template.Buffers |> Map.map (fun name fresh ->
                match c.State.Buffers.TryFind name with
                | Some b -> Array.map2 (fun (a: float32[]) f -> if isNull a then f else Array.copy a) b fresh
                | None -> fresh) }
