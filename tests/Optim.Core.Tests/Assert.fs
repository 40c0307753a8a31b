namespace Optim.Tests

open System
open Expecto

/// The assertions the tests make, with the meaning they had under xunit: Equal compares as .NET's Equals does, through
/// arrays, lists, tuples and records element by element (NaN equals NaN, 0 equals -0); Throws wants exactly the
/// exception's type and ThrowsAny that type or one derived from it. A failure raises Expecto's AssertException, which
/// Expecto reports as a failed test.
[<AbstractClass; Sealed>]
type Assert =
    static member private Failure(message: string) : 'a = raise (AssertException message)

    /// Fails unless `actual` equals `expected`.
    static member Equal<'T when 'T: equality>(expected: 'T, actual: 'T) =
        if not (LanguagePrimitives.GenericEqualityER expected actual) then
            Assert.Failure $"Assert.Equal() failure\nExpected: %A{expected}\nActual:   %A{actual}"

    /// Fails if `actual` equals `expected`.
    static member NotEqual<'T when 'T: equality>(expected: 'T, actual: 'T) =
        if LanguagePrimitives.GenericEqualityER expected actual then
            Assert.Failure $"Assert.NotEqual() failure\nNot expected: %A{expected}\nActual:       %A{actual}"

    /// Fails unless `condition` holds.
    static member True(condition: bool) = if not condition then Assert.Failure "Assert.True() failure: the condition is false"

    /// Fails with `message` unless `condition` holds.
    static member True(condition: bool, message: string) =
        if not condition then Assert.Failure $"Assert.True() failure: {message}"

    /// Fails if `condition` holds.
    static member False(condition: bool) = if condition then Assert.Failure "Assert.False() failure: the condition is true"

    /// Fails unless `value` is null.
    static member Null(value: obj) = if not (isNull value) then Assert.Failure $"Assert.Null() failure: %A{value}"

    /// Fails if `collection` has no element.
    static member NotEmpty(collection: Collections.IEnumerable) =
        if not (collection.GetEnumerator().MoveNext()) then Assert.Failure "Assert.NotEmpty() failure: the collection is empty"

    /// Fails unless `actual` holds `expected` (compared ordinally).
    static member Contains(expected: string, actual: string) =
        if isNull actual || not (actual.Contains(expected, StringComparison.Ordinal)) then
            Assert.Failure $"Assert.Contains() failure\nNot found: %A{expected}\nIn:        %A{actual}"

    /// Fails unless an element of `collection` equals `expected`.
    static member Contains<'T when 'T: equality>(expected: 'T, collection: seq<'T>) =
        if not (collection |> Seq.exists (LanguagePrimitives.GenericEqualityER expected)) then
            Assert.Failure $"Assert.Contains() failure\nNot found: %A{expected}\nIn:        %A{List.ofSeq collection}"

    /// Fails with `message`.
    static member Fail(message: string) : unit = Assert.Failure message

    /// Runs `testCode`; fails unless it throws an exception of exactly the type 'E, which it returns.
    static member Throws<'E when 'E :> exn>(testCode: unit -> unit) : 'E =
        match Assert.Thrown testCode with
        | Some e when e.GetType() = typeof<'E> -> e :?> 'E
        | thrown -> Assert.Failure(Assert.Wrong(typeof<'E>, "", thrown))

    /// Runs `testCode`; fails unless it throws an exception of the type 'E or one derived from it, which it returns.
    static member ThrowsAny<'E when 'E :> exn>(testCode: unit -> unit) : 'E =
        match Assert.Thrown testCode with
        | Some(:? 'E as e) -> e
        | thrown -> Assert.Failure(Assert.Wrong(typeof<'E>, " or a derived type", thrown))

    static member private Thrown(testCode: unit -> unit) : exn option =
        try
            testCode ()
            None
        with e ->
            Some e

    static member private Wrong(expected: Type, derived: string, thrown: exn option) : string =
        match thrown with
        | None -> $"Assert.Throws() failure: expected {expected.FullName}{derived}; no exception was thrown"
        | Some e -> $"Assert.Throws() failure: expected {expected.FullName}{derived}; {e.GetType().FullName} was thrown: {e}"
