using System.Reflection;

namespace Optim.NN.Tests;

/// <summary>What Optim.NN shows its users.</summary>
public class PublicSurfaceTests
{
    private static readonly Assembly Library = typeof(Tensor).Assembly;

    private static IEnumerable<Type> Mentioned(Type t)
    {
        if (t.IsByRef || t.IsArray || t.IsPointer) return Mentioned(t.GetElementType()!);
        if (t.IsGenericType) return new[] { t.GetGenericTypeDefinition() }.Concat(t.GetGenericArguments().SelectMany(Mentioned));
        return [t];
    }

    private static IEnumerable<(string Where, Type Type)> Surface()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var t in Library.GetExportedTypes())
        {
            if (t.BaseType is { } b) yield return ($"{t} base", b);
            foreach (var m in t.GetMethods(all)) { foreach (var p in m.GetParameters()) yield return ($"{t}.{m.Name}", p.ParameterType); yield return ($"{t}.{m.Name}", m.ReturnType); }
            foreach (var c in t.GetConstructors()) foreach (var p in c.GetParameters()) yield return ($"{t}..ctor", p.ParameterType);
            foreach (var p in t.GetProperties(all)) yield return ($"{t}.{p.Name}", p.PropertyType);
        }
    }

    [Fact]
    public void NoFSharpOrCoreTypeAppearsInThePublicSurface()
    {
        var offending = Surface().SelectMany(x => Mentioned(x.Type).Select(t => (x.Where, t)))
            .Where(x => x.t.Assembly.GetName().Name is "FSharp.Core" or "Optim.Core")
            .Select(x => $"{x.Where}: {x.t}").Distinct().ToList();
        Assert.True(offending.Count == 0, string.Join("\n", offending));
    }

    [Fact]
    public void ThePublicTypesAreTheDocumentedOnes()
    {
        var names = Library.GetExportedTypes().Select(t => t.Name).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(
            new[] { "AveragedModel", "AvgPool2d", "BatchNorm", "BatchNorm1d", "BatchNorm2d", "Cifar10", "Compose", "Conv2d", "CrossEntropyLoss", "DataLoader", "Dropout", "FashionMnist", "Flatten", "Functional", "ITransform", "Idx", "Linear", "MSELoss", "MaxPool2d", "ModelCheckpoint", "Module", "Normalize", "Pool2d", "RandomCrop", "RandomHorizontalFlip", "ReLU", "Sequential", "SwaUtils", "Tensor", "TensorDataset" },
            names);
    }
}
