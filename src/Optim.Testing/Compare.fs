namespace Optim.Testing

open System
open System.Text
open Optim

/// Comparisons that say where two runs differ, and the printing of cases, for the laws' messages.
module internal Compare =

    let num (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

    let private num32 (x: float32) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

    /// A float array as the counterexamples print it: every element of a short one, the first 12 of a long one.
    let floats (a: float32[]) =
        if isNull a then "none"
        elif a.Length <= 12 then "[" + String.Join(", ", a |> Array.map num32) + "]"
        else "[" + String.Join(", ", a |> Array.take 12 |> Array.map num32) + $", … ({a.Length} elements)]"

    /// The first element where `actual` is not within `tol` of `expected`, described; None when they agree.
    let arrays (tol: Tolerance) (what: string) (expected: float32[]) (actual: float32[]) : string option =
        match isNull expected, isNull actual with
        | true, true -> None
        | true, false -> Some $"{what}: expected none, got {floats actual}"
        | false, true -> Some $"{what}: expected {floats expected}, got none"
        | false, false when expected.Length <> actual.Length ->
            Some $"{what}: expected {expected.Length} elements, got {actual.Length}"
        | false, false ->
            let mutable found = None
            let mutable j = 0
            while found.IsNone && j < expected.Length do
                let e, a = float expected.[j], float actual.[j]
                if not (Tolerance.within tol e a) then
                    found <- Some $"{what}, element {j}: expected {num32 expected.[j]}, got {num32 actual.[j]} (difference {num (abs (a - e))}; tolerance {Tolerance.format tol})"
                j <- j + 1
            found

    /// The first parameter whose values differ.
    let parameters (tol: Tolerance) (where: string) (shapes: int[][]) (expected: float32[][]) (actual: float32[][]) : string option =
        if expected.Length <> actual.Length then Some $"{where}: expected {expected.Length} parameters, got {actual.Length}"
        else
            Seq.init expected.Length id
            |> Seq.tryPick (fun i -> arrays tol $"{where}, parameter {i} (shape {Tensor.formatShape shapes.[i]})" expected.[i] actual.[i])

    /// Where two core states differ: step counts, buffers (by the expected state's names), optimizer-wide values.
    let states (tol: Tolerance) (where: string) (expected: State) (actual: State) : string option =
        let steps =
            if expected.Steps.Length <> actual.Steps.Length then
                Some $"{where}: the state covers {actual.Steps.Length} parameters, expected {expected.Steps.Length}"
            else
                Seq.init expected.Steps.Length id
                |> Seq.tryPick (fun i ->
                    if expected.Steps.[i] <> actual.Steps.[i] then
                        Some $"{where}, the step count of parameter {i}: expected {expected.Steps.[i]}, got {actual.Steps.[i]}"
                    else None)
        steps
        |> Option.orElse (
            expected.Buffers |> Seq.tryPick (fun (KeyValue(name, table)) ->
                match actual.Buffers.TryFind name with
                | None ->
                    if table |> Array.exists (isNull >> not) then Some $"{where}: the state lacks the buffer '{name}'" else None
                | Some other ->
                    Seq.init (min table.Length other.Length) id
                    |> Seq.tryPick (fun i -> arrays tol $"{where}, buffer '{name}' of parameter {i}" table.[i] other.[i])))
        |> Option.orElse (
            expected.Globals |> Seq.tryPick (fun (KeyValue(name, v)) ->
                match actual.Globals.TryFind name with
                | None -> Some $"{where}: the state lacks the optimizer-wide value '{name}'"
                | Some w when not (Tolerance.within tol v.[0] w.[0]) -> Some $"{where}, the optimizer-wide value '{name}': expected {num v.[0]}, got {num w.[0]}"
                | Some _ -> None))

    /// Where one parameter's part of a state changed between two snapshots (its step count and its buffer entries).
    let parameterState (where: string) (i: int) (before: State) (after: State) : string option =
        if before.Steps.[i] <> after.Steps.[i] then
            Some $"{where}: the step count of parameter {i} went from {before.Steps.[i]} to {after.Steps.[i]}"
        else
            before.Buffers |> Seq.tryPick (fun (KeyValue(name, table)) ->
                match after.Buffers.TryFind name with
                | None -> Some $"{where}: the buffer '{name}' disappeared"
                | Some other -> arrays Tolerance.exact $"{where}, buffer '{name}' of parameter {i}" table.[i] other.[i])

    /// The first non-finite value among parameters and state buffers.
    let finite (where: string) (ps: float32[][]) (state: State option) : string option =
        let bad (what: string) (a: float32[]) =
            if isNull a then None
            else a |> Array.tryFindIndex (Single.IsFinite >> not) |> Option.map (fun j -> $"{where}, {what}, element {j} is {num32 a.[j]}")
        ps |> Seq.indexed |> Seq.tryPick (fun (i, a) -> bad $"parameter {i}" a)
        |> Option.orElse (
            state |> Option.bind (fun s ->
                s.Buffers |> Seq.tryPick (fun (KeyValue(name, table)) ->
                    table |> Seq.indexed |> Seq.tryPick (fun (i, a) -> bad $"buffer '{name}' of parameter {i}" a))))

    /// A deep copy of gradients.
    let copyGrads (g: float32[][]) = g |> Array.map (fun a -> if isNull a then null else Array.copy a)

    /// A case as the counterexamples print it: the parameters (shapes and values), the options, and the gradients per step.
    let describeCase (options: string) (ps: Tensor[]) (grads: float32[][] list) =
        let sb = StringBuilder()
        if not (String.IsNullOrWhiteSpace options) then sb.AppendLine($"  hyperparameters: {options}") |> ignore
        sb.AppendLine($"  parameters ({ps.Length}):") |> ignore
        ps |> Array.iteri (fun i p -> sb.AppendLine($"    {i}: shape {Tensor.formatShape p.Shape} = {floats p.Data}") |> ignore)
        sb.AppendLine($"  gradients ({grads.Length} step(s)):") |> ignore
        grads |> List.iteri (fun t g ->
            sb.AppendLine($"    step {t + 1}:") |> ignore
            g |> Array.iteri (fun i a -> sb.AppendLine($"      {i}: {floats a}") |> ignore))
        sb.ToString().TrimEnd()

    /// Options printed with F#'s structural format, on one line; nothing for unit.
    let describeOptions (o: 'o) =
        if typeof<'o> = typeof<unit> then ""
        else (sprintf "%A" o).Replace(Environment.NewLine, " ").Replace("\n", " ") |> fun s -> Text.RegularExpressions.Regex.Replace(s, " +", " ")
