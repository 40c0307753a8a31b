// The demo's entry point: its command line, checked before any work starts, then the demo itself (Demo.cs).
//   dotnet run -c Release --project samples/Optim.Demo -- --help
using OptimDemo;

switch (DemoCommandLine.Parse(args))
{
    case DemoCommandLine.Help help:
        Console.Out.Write(help.Text);
        return 0;
    case DemoCommandLine.Invalid invalid:
        Console.Error.WriteLine(invalid.Message);
        return DemoCommandLine.UsageError;
    case DemoCommandLine.Run run:
        return Demo.Run(run.Options, DemoConsole.ForStandardOutput());
    default:
        throw new InvalidOperationException("The command line parsed to nothing the demo knows.");
}
