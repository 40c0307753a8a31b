using System.Collections.Concurrent;
using System.Reflection;
using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// <see cref="Module.DeepCopy"/>'s mechanism (Python's <c>copy.deepcopy</c> for modules): a memberwise copy of every
/// module, with the fields that hold state replaced by copies, each object copied once so that what the model shares
/// (a tied weight, a tensor over a parameter's buffer) the copy shares too.
/// </summary>
/// <remarks>
/// <para>Copied: modules (every instance field of their type and its bases), <see cref="Parameter"/>s (values, shape, name
/// and <see cref="Parameter.RequiresGrad"/>, no gradient), <see cref="Tensor"/>s (leaves over the copied arrays; a
/// tensor over a parameter is one over the parameter's copy), arrays (of numbers: cloned; of references: each element
/// as a field is), objects of Optim.NN's internal types that a layer keeps (batch norm's state), and delegates of a module's
/// own methods (bound to its copy, as <c>deepcopy</c> rebinds a bound method). Shared, as they are: strings and other
/// immutable values, <see cref="Random"/> generators (a copied <see cref="Dropout"/> draws from the same one, as
/// PyTorch's layers draw from one global generator), other delegates and closures (as <c>deepcopy</c> shares functions),
/// and objects of any other type (a <c>List&lt;Module&gt;</c>, a class of one's own), which the check below catches when
/// they hold a layer.</para>
/// <para>After the copy, no module, parameter or buffer array registered in the copy may be one of the model's: a module
/// that keeps a layer where the copier cannot reach it fails there, naming the module that holds it, instead of
/// giving a copy that trains the original's weights.</para>
/// </remarks>
internal sealed class ModuleCopier
{
    private static readonly Func<object, object> s_memberwiseClone = typeof(object)
        .GetMethod("MemberwiseClone", BindingFlags.Instance | BindingFlags.NonPublic)!
        .CreateDelegate<Func<object, object>>();

    private static readonly ConcurrentDictionary<Type, FieldInfo[]> s_fields = new();

    private readonly Dictionary<object, object> _copies = new(ReferenceEqualityComparer.Instance);

    /// <summary>A deep copy of <paramref name="source"/>, checked to share no registered state with it.</summary>
    public static Module Copy(Module source)
    {
        var copy = (Module)new ModuleCopier().CopyObject(source);
        CheckIndependent(source, copy, fromFactory: false);
        return copy;
    }

    /// <summary>
    /// A copy of <paramref name="source"/> made as <paramref name="factory"/> builds a fresh one: the source's state dict
    /// loaded into it (strictly: the same keys and shapes) and its modules' training modes set to the source's, by name.
    /// </summary>
    /// <exception cref="ArgumentException">The factory returns null, the model or a module sharing state with it, or a
    /// module whose state dict does not fit (the message names the keys).</exception>
    public static Module Build(Module source, Func<Module> factory)
    {
        var fresh = factory() ?? throw new ArgumentException("The factory returned null; it must build a new module.", nameof(factory));
        CheckIndependent(source, fresh, fromFactory: true);
        try
        {
            fresh.LoadStateDict(source.StateDict());
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The module the factory built does not fit the model: {e.Message}", nameof(factory), e);
        }
        var modes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (name, m) in source.NamedModules()) modes[name] = m.Training;
        // parents first: each Train call sets the subtree, and the children's own calls come after
        foreach (var (name, m) in fresh.NamedModules())
            if (modes.TryGetValue(name, out var training)) m.Train(training);
        return fresh;
    }

    /// <summary>
    /// Fails when <paramref name="copy"/> registers a module, parameter or buffer array of <paramref name="source"/>'s,
    /// naming the module that holds it and what to do.
    /// </summary>
    public static void CheckIndependent(Module source, Module copy, bool fromFactory)
    {
        if (ReferenceEquals(source, copy))
            throw new ArgumentException("The factory returned the model itself; it must build a new module every time.", "factory");
        var modules = new HashSet<Module>(source.NamedModules().Select(m => m.Module), ReferenceEqualityComparer.Instance);
        var arrays = new HashSet<float[]>(source.NamedParameters().Select(p => p.Parameter.Data)
            .Concat(source.NamedBuffers().Select(b => b.Buffer.Data)), ReferenceEqualityComparer.Instance);
        var copied = copy.NamedModules().ToList();
        string? shared = null, holder = null;
        foreach (var (name, m) in copied)
            if (modules.Contains(m))
            {
                (shared, holder) = ($"the layer '{name}' ({m.GetType().Name})", Parent(name));
                break;
            }
        if (shared is null)
            foreach (var (name, data) in copy.NamedParameters().Select(p => (p.Name, p.Parameter.Data))
                         .Concat(copy.NamedBuffers().Select(b => (b.Name, b.Buffer.Data))))
                if (arrays.Contains(data))
                {
                    (shared, holder) = ($"the values of '{name}'", Parent(name));
                    break;
                }
        if (shared is null) return;
        var owner = copied.First(m => m.Name == holder);
        string who = owner.Module.GetType().Name + (holder!.Length == 0 ? "" : $" at '{holder}'");
        if (fromFactory)
            throw new ArgumentException(
                $"The module the factory built shares {shared} with the model ({who} holds it); the factory must build a new module every time.", "factory");
        throw new NotSupportedException(
            $"{source.GetType().Name} cannot be deep-copied: the copy would share {shared} with the model, because {who} keeps it in a " +
            "field the copier does not follow (a collection or an object of another type; it follows modules, parameters, tensors and " +
            "arrays of them). Keep layers in fields of their own or in an array, or build the copy with a factory: " +
            $"new AveragedModel(model, factory: () => new {source.GetType().Name}(...)) builds a fresh module and loads the model's state dict into it.");
    }

    /// <summary>The dotted name of the module that holds <paramref name="name"/> (<c>""</c>: the model).</summary>
    private static string Parent(string name) => name.LastIndexOf('.') is var dot and >= 0 ? name[..dot] : "";

    private object? Value(object? value) => value switch
    {
        null => null,
        Parameter p => CopyParameter(p),
        Tensor t => CopyTensor(t),
        Module m => CopyObject(m),
        Array a => CopyArray(a),
        Delegate d => CopyDelegate(d),
        string or Random or Type => value,
        _ when value.GetType() is { IsValueType: false } t && Follows(t) => CopyObject(value),
        _ => value,
    };

    /// <summary>
    /// Objects of Optim.NN's internal types (a layer's state, as batch norm's) are copied; others shared, public ones of
    /// Optim.NN's included (a dataset or a loader a module refers to is not the module's state).
    /// </summary>
    private static bool Follows(Type t) => t.Assembly == typeof(Module).Assembly && !t.IsVisible;

    private object CopyObject(object source)
    {
        if (_copies.TryGetValue(source, out var done)) return done;
        var copy = s_memberwiseClone(source);
        _copies[source] = copy;
        foreach (var f in Fields(source.GetType()))
        {
            var value = f.GetValue(source);
            var replaced = Value(value);
            if (!ReferenceEquals(replaced, value)) f.SetValue(copy, replaced);
        }
        return copy;
    }

    private Parameter CopyParameter(Parameter p)
    {
        if (_copies.TryGetValue(p, out var done)) return (Parameter)done;
        var copy = new Parameter((float[])CopyArray(p.Data), (int[])p.Shape.Clone()) { Name = p.Name, RequiresGrad = p.RequiresGrad };
        _copies[p] = copy;
        return copy;
    }

    private Tensor CopyTensor(Tensor t)
    {
        if (_copies.TryGetValue(t, out var done)) return (Tensor)done;
        Tensor copy;
        if (t.Parameter is { } p) copy = Tensor.FromParameter(CopyParameter(p));
        else
        {
            copy = Tensor.Wrap((float[])CopyArray(t.Data), (int[])t.ShapeArray.Clone(), t.IsIntegral);
            if (t.IsLeaf && t.RequiresGrad) copy.RequiresGrad = true;
        }
        _copies[t] = copy;
        return copy;
    }

    private Array CopyArray(Array a)
    {
        if (_copies.TryGetValue(a, out var done)) return (Array)done;
        var copy = (Array)a.Clone();
        _copies[a] = copy;
        var element = a.GetType().GetElementType()!;
        if (a.Rank == 1 && !element.IsValueType)
            for (int i = 0; i < copy.Length; i++) copy.SetValue(Value(a.GetValue(i)), i);
        return copy;
    }

    private Delegate CopyDelegate(Delegate d)
    {
        var calls = d.GetInvocationList();
        if (!calls.Any(c => c.Target is { } t && (t is Module || Follows(t.GetType())))) return d;
        if (_copies.TryGetValue(d, out var done)) return (Delegate)done;
        var copy = Delegate.Combine(calls.Select(c => c.Target is null ? c : Delegate.CreateDelegate(c.GetType(), Value(c.Target), c.Method)).ToArray())!;
        _copies[d] = copy;
        return copy;
    }

    /// <summary>The instance fields of a type and its bases that may hold a reference (numbers and enums are copied by the memberwise copy).</summary>
    private static FieldInfo[] Fields(Type type) => s_fields.GetOrAdd(type, static t =>
    {
        var fields = new List<FieldInfo>();
        for (var c = t; c is not null && c != typeof(object); c = c.BaseType)
            fields.AddRange(c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Where(f => !f.FieldType.IsPrimitive && !f.FieldType.IsEnum && !f.FieldType.IsPointer));
        return fields.ToArray();
    });
}
