module Optim.Testing.Tests.Program

open System
open Expecto
open Expecto.Impl

[<EntryPoint>]
let main argv =
    let mutable counts = None
    // errored tests count as failed
    let summary (s: TestRunSummary) = counts <- Some(s.passed.Length, s.failed.Length + s.errored.Length)
    let tests = testList "Optim.Testing" [ KitTests.tests; MutantTests.tests ]
    let code =
        runTestsWithCLIArgs
            [ CLIArguments.Sequenced; CLIArguments.No_Spinner; CLIArguments.Colours 0; CLIArguments.Append_Summary_Handler(SummaryHandler summary) ]
            argv tests
    // the last line of the output, as build.fsx reads it, written past Expecto's console writer, which ends its output
    // with a colour reset: the newline first leaves that on a line of its own
    Console.Out.Flush()
    let passed, failed = defaultArg counts (0, 1)
    use out = new IO.StreamWriter(Console.OpenStandardOutput())
    out.Write $"\n{passed} passed, {failed} failed\n"
    if failed > 0 then max code 1 else code
