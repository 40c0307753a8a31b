/// Runs the tests of the F# core as one Expecto program:
///   dotnet tests/Optim.Core.Tests/bin/Release/net10.0/Optim.Core.Tests.dll [Expecto's options: --filter, --list-tests, ...]
/// Its last line is "N passed, N failed" (a test that errored counts as failed; an ignored one counts as neither), which
/// build.fsx adds to the other test projects' results; it exits non-zero when a test failed.
module Optim.Tests.Program

open System
open System.IO
open Expecto

let private tests =
    [ TransformTests.tests
      KernelTests.tests
      OptionsTests.tests
      DescriptorTests.tests
      CompositionTests.tests
      OptimizerLawTests.tests
      CombinatorTests.tests
      GoldenReplayTests.tests
      SparseAdamTests.tests
      AdafactorTests.tests
      MuonTests.tests
      CheckpointTests.tests
      LbfgsTests.tests
      FacadeLawTests.tests
      ScheduleTests.tests
      DocTests.tests ]

[<EntryPoint>]
let main argv =
    let mutable counts = None
    let summary = SummaryHandler(fun s -> counts <- Some(s.passed.Length, s.failed.Length + s.errored.Length))
    // The tests run one after another, whatever the options say. Run in parallel, bit-for-bit laws were seen to break
    // and the test host to crash, rarely (often under GC stress, DOTNET_GCgen0size=0x40000); the crashes came during the
    // split tests of the hand-fused kernels, which hand pinned pointers to the kernels' worker thread. That defect is open.
    // Names join with "/": many case names hold a dot.
    let code =
        runTestsWithCLIArgs [ Sequenced; JoinWith "/"; Append_Summary_Handler summary ] argv
            (testSequenced (TestList(tests, Normal)))
    match counts with
    | Some(passed, failed) ->
        // Expecto's console writer pads its lines and ends with a colour reset after the last newline, so the closing
        // line goes straight to the standard output, on a line of its own.
        Console.Out.Flush()
        use out = new StreamWriter(Console.OpenStandardOutput())
        out.Write $"\n{passed} passed, {failed} failed\n"
    | None -> ()
    code
