using System.Reflection;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

public class PublicSurfaceTests
{
    private static IEnumerable<Type> Mentioned(Type t)
    {
        if (t.IsByRef || t.IsArray || t.IsPointer) return Mentioned(t.GetElementType()!);
        if (t.IsGenericType) return new[] { t.GetGenericTypeDefinition() }.Concat(t.GetGenericArguments().SelectMany(Mentioned));
        return [t];
    }

    private static IEnumerable<(string Where, Type Type)> Surface(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var t in assembly.GetExportedTypes())
        {
            if (t.BaseType is { } b) yield return ($"{t} base", b);
            foreach (var i in t.GetInterfaces()) yield return ($"{t} interface", i);
            foreach (var m in t.GetMembers(all))
            {
                bool visible = m switch
                {
                    MethodBase mb => mb.IsPublic || mb.IsFamily || mb.IsFamilyOrAssembly,
                    PropertyInfo p => p.GetAccessors(true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
                    FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
                    _ => false,
                };
                if (!visible) continue;
                switch (m)
                {
                    case MethodBase mb:
                        foreach (var p in mb.GetParameters()) yield return ($"{t}.{m.Name}({p.Name})", p.ParameterType);
                        if (mb is MethodInfo mi) yield return ($"{t}.{m.Name} returns", mi.ReturnType);
                        break;
                    case PropertyInfo p: yield return ($"{t}.{p.Name}", p.PropertyType); break;
                    case FieldInfo f: yield return ($"{t}.{f.Name}", f.FieldType); break;
                }
            }
        }
    }

    [Fact]
    public void NoFSharpTypeAppearsInTheFacadesPublicSurface()
    {
        var facade = typeof(Optimizer).Assembly;
        var offending = Surface(facade)
            .SelectMany(x => Mentioned(x.Type).Select(t => (x.Where, t)))
            .Where(x => x.t.Assembly.GetName().Name is "FSharp.Core" or "Optim.Core")
            .Select(x => $"{x.Where}: {x.t}")
            .Distinct()
            .ToList();
        Assert.True(offending.Count == 0, "F# types in the facade's public surface:\n" + string.Join("\n", offending));
    }

    [Fact]
    public void TheSurfaceCheckWouldCatchAnFSharpType()
    {
        var mentioned = Mentioned(typeof(Func<Microsoft.FSharp.Collections.FSharpList<int>[], int>)).ToList();
        Assert.Contains(mentioned, t => t.Assembly.GetName().Name == "FSharp.Core");
    }

    [Fact]
    public void TheFacadeUsesTorchOptimsClassNames()
    {
        var names = typeof(Optimizer).Assembly.GetExportedTypes().Select(t => t.Name).ToHashSet();
        foreach (var n in new[] { "Parameter", "ParamGroup", "Optimizer", "StateDict", "SGD", "Adam", "AdamW" })
            Assert.Contains(n, names);
    }
}
