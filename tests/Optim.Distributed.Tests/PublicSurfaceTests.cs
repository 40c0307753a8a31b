using System.Reflection;

namespace Optim.Distributed.Tests;

/// <summary>What Optim.Distributed shows its users.</summary>
public class PublicSurfaceTests
{
    private static readonly Assembly Library = typeof(ICommunicator).Assembly;

    private static IEnumerable<Type> Mentioned(Type t)
    {
        if (t.IsByRef || t.IsArray || t.IsPointer) return Mentioned(t.GetElementType()!);
        if (t.IsGenericType) return new[] { t.GetGenericTypeDefinition() }.Concat(t.GetGenericArguments().SelectMany(Mentioned));
        return [t];
    }

    [Fact]
    public void NoFSharpOrCoreTypeAppearsInThePublicSurface()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var types = Library.GetExportedTypes().SelectMany(t =>
            t.GetMethods(all).SelectMany(m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType))
             .Concat(t.GetConstructors().SelectMany(c => c.GetParameters().Select(p => p.ParameterType)))
             .Concat(t.GetProperties(all).Select(p => p.PropertyType))
             .Select(x => (t, x)));
        var offending = types.SelectMany(x => Mentioned(x.x).Select(m => (x.t, m)))
            .Where(x => x.m.Assembly.GetName().Name is "FSharp.Core" or "Optim.Core").Select(x => $"{x.t}: {x.m}").Distinct().ToList();
        Assert.True(offending.Count == 0, string.Join("\n", offending));
    }

    [Fact]
    public void ThePublicTypesAreTheDocumentedOnes()
    {
        var names = Library.GetExportedTypes().Select(t => t.Name).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(new[] { "CommunicatorException", "DistributedDataParallel", "DistributedSampler", "ICommunicator", "InProcessCommunicator", "MpiCommunicator", "ZeroRedundancyOptimizer" }, names);
    }
}
