using System.Collections.Concurrent;
using System.Reflection;
using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// A layer or model (<c>torch.nn.Module</c>): a function of one tensor with trainable parameters, buffers (state that is
/// saved but not trained, as BatchNorm's running statistics) and named submodules, in training or evaluation mode.
/// </summary>
/// <remarks>
/// <para>A model declares what it holds by overriding <see cref="RegisteredChildren"/> (its submodules, by name),
/// <see cref="RegisteredParameters"/> and <see cref="RegisteredBuffers"/> (its own, by name), as PyTorch's
/// attribute assignment registers them. Everything else follows from those declarations, in PyTorch's order (the
/// module's own parameters and buffers, then each child's, depth first): <see cref="NamedParameters"/> with dotted names
/// (<c>features.0.weight</c>), <see cref="Parameters"/>, <see cref="NamedBuffers"/>, <see cref="StateDict"/>,
/// <see cref="LoadStateDict"/>, <see cref="Train"/> and <see cref="Eval"/> (which reach every registered child) and
/// <see cref="ZeroGrad"/>.</para>
/// <code>
/// sealed class Net : Module
/// {
///     private readonly Sequential _features = new(new Linear(784, 128), new ReLU(), new Dropout(0.2));
///     private readonly Linear _classifier = new(128, 10);
///     protected override IEnumerable&lt;(string Name, Module Module)&gt; RegisteredChildren() =&gt;
///         [("features", _features), ("classifier", _classifier)];
///     public override Tensor Forward(Tensor input) =&gt; _classifier.Forward(_features.Forward(input));
/// }
/// // NamedParameters(): features.0.weight, features.0.bias, classifier.weight, classifier.bias
/// </code>
/// <para>A module written the older way, overriding <see cref="Parameters"/> and declaring nothing, keeps working:
/// its parameters are the ones its override returns, named by the last dot-separated part of their
/// <see cref="Parameter.Name"/> when every one has a name and those parts differ (a layer that names its parameters
/// <c>weight</c> and <c>bias</c> gets PyTorch's names), and otherwise by their position (<c>0</c>, <c>1</c>, …). Its
/// inner modules are not children: <see cref="Train"/> does not reach them.</para>
/// <para>Names are given to <see cref="Parameter.Name"/> in one place: a <see cref="Sequential"/>, when it is constructed,
/// names every parameter below it by its dotted name there (<c>0.weight</c>, <c>2.bias</c>, <c>1.0.weight</c>), so that an
/// optimizer's state dict records which layer each parameter belongs to. A model that is not a <see cref="Sequential"/>
/// leaves the names its layers have; <see cref="NamedParameters"/> and <see cref="StateDict"/> give the full dotted names
/// whatever the <see cref="Parameter.Name"/>s are.</para>
/// </remarks>
public abstract class Module
{
    private static readonly ConcurrentDictionary<Type, bool> s_overridesParameters = new();

    /// <summary>Computes the output (<c>module(x)</c>), recording the graph when gradients are on.</summary>
    /// <param name="input">The input.</param>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Whether the module is in training mode (<c>module.training</c>); true until <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>
    /// Sets training mode (<c>module.train(mode)</c>) on this module and every registered child, recursively: layers
    /// such as <see cref="Dropout"/> and <see cref="BatchNorm2d"/> behave differently in training and evaluation.
    /// </summary>
    /// <param name="mode">True for training, false for evaluation.</param>
    /// <returns>This module.</returns>
    public virtual Module Train(bool mode = true)
    {
        Training = mode;
        foreach (var (_, child) in NamedChildren()) child.Train(mode);
        return this;
    }

    /// <summary>Sets evaluation mode (<c>module.eval()</c>): <c>Train(false)</c>.</summary>
    /// <returns>This module.</returns>
    public Module Eval() => Train(false);

    /// <summary>
    /// The module's submodules by name, in order (PyTorch registers them by attribute assignment); the base module has
    /// none. Override it in a model made of layers; <see cref="Sequential"/> names its modules <c>0</c>, <c>1</c>, ….
    /// A name is not empty and holds no dot.
    /// </summary>
    protected virtual IEnumerable<(string Name, Module Module)> RegisteredChildren() => [];

    /// <summary>The module's own parameters by name, in order (for <see cref="Linear"/>: <c>weight</c>, then <c>bias</c>); the base module has none.</summary>
    protected virtual IEnumerable<(string Name, Parameter Parameter)> RegisteredParameters() => [];

    /// <summary>
    /// The module's own buffers by name, in order: state saved in <see cref="StateDict"/> but not trained (for
    /// <see cref="BatchNorm2d"/>: <c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>). Each tensor is
    /// the live buffer: <see cref="LoadStateDict"/> copies into its <see cref="Tensor.Data"/>. Every buffer is persistent
    /// (saved). The base module has none.
    /// </summary>
    protected virtual IEnumerable<(string Name, Tensor Buffer)> RegisteredBuffers() => [];

    /// <summary>The registered children (<c>named_children()</c>), each module once, under its first name.</summary>
    /// <exception cref="InvalidOperationException">A name is empty, holds a dot or repeats, or a child is null.</exception>
    public IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        foreach (var (name, child) in Children(this))
            if (seen.Add(child)) yield return (name, child);
    }

    /// <summary>The registered children (<c>children()</c>), each once.</summary>
    /// <exception cref="InvalidOperationException">As <see cref="NamedChildren"/>.</exception>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Module);

    /// <summary>
    /// This module (named <c>""</c>) and every module below it, depth first, each once under its first dotted name
    /// (<c>named_modules()</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child is null.</exception>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return Walk(this, "");

        IEnumerable<(string, Module)> Walk(Module m, string prefix)
        {
            if (!seen.Add(m)) yield break;
            yield return (prefix, m);
            foreach (var (name, child) in Children(m))
                foreach (var x in Walk(child, Join(prefix, name))) yield return x;
        }
    }

    /// <summary>
    /// Every parameter of this module and the modules below it, with its dotted name (<c>named_parameters()</c>): the
    /// module's own first, then each child's, depth first, as PyTorch orders them (<c>0.weight</c>, <c>0.bias</c>,
    /// <c>2.weight</c>, … for a <see cref="Sequential"/>). A parameter held in two places comes once, under its first name.
    /// </summary>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child or parameter is null.</exception>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, p) in m.LocalParameters())
                if (seen.Add(p)) yield return (Join(prefix, name), p);
    }

    /// <summary>
    /// The trainable parameters, in PyTorch's order (<see cref="NamedParameters"/>'s), to hand to an optimizer:
    /// <c>new Adam(model.Parameters(), lr: 1e-3)</c>. A module may override it (the older way to declare parameters;
    /// see the class's remarks).
    /// </summary>
    public virtual IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer of this module and the modules below it, with its dotted name (<c>named_buffers()</c>), in <see cref="NamedParameters"/>'s order.</summary>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child or buffer is null.</exception>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, b) in m.LocalBuffers())
                if (seen.Add(b)) yield return (Join(prefix, name), b);
    }

    /// <summary>The buffers (<c>buffers()</c>), live, in <see cref="NamedBuffers"/>'s order.</summary>
    /// <exception cref="InvalidOperationException">As <see cref="NamedBuffers"/>.</exception>
    public IEnumerable<Tensor> Buffers() => NamedBuffers().Select(b => b.Buffer);

    /// <summary>
    /// A snapshot of the module (<c>state_dict()</c>): every parameter and buffer by dotted name, in PyTorch's order (each
    /// module's parameters, then its buffers, then its children's, depth first), as copies that share no memory with the
    /// module and record no graph. A parameter or module held in two places appears under each name, as in PyTorch.
    /// </summary>
    /// <remarks>
    /// Every value is a float32 tensor of the parameter's or buffer's shape. PyTorch's one integer buffer, BatchNorm's
    /// <c>num_batches_tracked</c> (an int64 there), is a rank-0 float32 tensor holding the count; a checkpoint writer
    /// stores it as int64 again.
    /// </remarks>
    /// <returns>The state, in order: <c>model.StateDict()["0.weight"]</c>.</returns>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child, parameter or buffer is null.</exception>
    public OrderedDictionary<string, Tensor> StateDict()
    {
        var state = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var entry in StateEntries())
            state.Add(entry.Key, Tensor.Result((float[])entry.Data.Clone(), (int[])entry.Shape.Clone(), null));
        return state;
    }

    /// <summary>
    /// Copies a state dict's values into the module's live parameters and buffers (<c>load_state_dict()</c>); an
    /// optimizer over the parameters keeps working on the same arrays. Every key and shape is checked before anything
    /// is copied: a load that fails changes nothing.
    /// </summary>
    /// <param name="stateDict">Values by dotted name, as <see cref="StateDict"/> makes them.</param>
    /// <param name="strict">Whether every key of the module must be in the state dict and every key of the state dict in
    /// the module (PyTorch's default). Without it, missing and unexpected keys are reported in the result and skipped;
    /// a shape mismatch is an error either way, as in PyTorch.</param>
    /// <returns>The module's keys the state dict lacks, and the state dict's keys the module lacks, in order (empty for a
    /// strict load that succeeds).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stateDict"/> is null.</exception>
    /// <exception cref="ArgumentException">With <paramref name="strict"/>, keys are missing or unexpected; or a value is null
    /// or its shape differs from the module's. The message names every such key (with both shapes); the module is unchanged.</exception>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child, parameter or buffer is null.</exception>
    /// <example><code>
    /// var saved = model.StateDict();
    /// var copy = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    /// copy.LoadStateDict(saved);   // copy now computes what model computes
    /// </code></example>
    public (IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys) LoadStateDict(
        IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var entries = StateEntries();
        var known = new HashSet<string>(entries.Select(e => e.Key), StringComparer.Ordinal);
        var missing = entries.Where(e => !stateDict.ContainsKey(e.Key)).Select(e => e.Key).Distinct().ToList();
        var unexpected = stateDict.Keys.Where(k => !known.Contains(k)).ToList();
        var errors = new List<string>();
        if (strict && missing.Count > 0) errors.Add($"Missing key(s) in state_dict: {Quote(missing)}.");
        if (strict && unexpected.Count > 0) errors.Add($"Unexpected key(s) in state_dict: {Quote(unexpected)}.");
        foreach (var e in entries)
        {
            if (!stateDict.TryGetValue(e.Key, out var value)) continue;
            if (value is null) errors.Add($"The value for {e.Key} is null.");
            else if (!value.Shape.SequenceEqual(e.Shape))
                errors.Add($"size mismatch for {e.Key}: copying a param with shape {Shapes.Format(value.ShapeArray)} from checkpoint, the shape in current model is {Shapes.Format(e.Shape)}.");
        }
        if (errors.Count > 0)
            throw new ArgumentException($"Error(s) in loading state_dict for {GetType().Name}: {string.Join(" ", errors)} Nothing was loaded.", nameof(stateDict));
        foreach (var e in entries)
            if (stateDict.TryGetValue(e.Key, out var value)) value!.Data.AsSpan().CopyTo(e.Data);
        foreach (var (name, p) in NamedParameters())
            if (stateDict.ContainsKey(name)) p.MarkModified();
        return (missing, unexpected);
    }

    /// <summary>
    /// Clears the gradients of every parameter (<c>module.zero_grad(set_to_none)</c>): sets them to null (the default, as
    /// PyTorch 2.x), or fills them with zeros when <paramref name="setToNone"/> is false (a sparse gradient then keeps no rows).
    /// </summary>
    /// <param name="setToNone">Whether to drop the gradient arrays instead of zeroing them.</param>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in Parameters())
        {
            if (setToNone) p.Grad = null;
            else if (p.Grad is { } g) Array.Clear(g);
            else if (p.HasSparseGrad)
            {
                p.Grad = null;
                p.AccumulateSparseGrad([], []);
            }
        }
    }

    /// <summary>
    /// An independent copy of the module and everything below it (<c>copy.deepcopy(module)</c>): the same layers and
    /// hyperparameters, training modes, parameters (with their names and <see cref="Parameter.RequiresGrad"/>, without
    /// gradients) and buffers, in new arrays, so that training either one leaves the other as it was. What the module
    /// shares (a weight tied between two layers, a tensor over a parameter's values), the copy shares within itself.
    /// </summary>
    /// <remarks>
    /// <para>It copies the module field by field, following what holds state: modules, parameters, tensors, arrays of them,
    /// and the objects Optim.NN's layers keep, so every Optim.NN layer and a model of one's own whose layers are in fields
    /// (or arrays) copy whole, as in the class's example. Other objects a module refers to are shared with the copy:
    /// strings and other values, delegates and closures (one of a module's own methods is bound to the copy, as
    /// <c>deepcopy</c> rebinds a bound method), and
    /// <see cref="Random"/> generators — a copied <see cref="Dropout"/> draws its masks from the original's generator,
    /// as PyTorch's layers all draw from one.</para>
    /// <para>A module that keeps a layer where the copy cannot follow it (a <c>List&lt;Module&gt;</c>, a dictionary, an
    /// object of another type) would give a copy that shares that layer; that is refused, naming the module that holds
    /// it. Build the copy instead by loading the state dict into a fresh module:
    /// <c>var copy = new Net(); copy.LoadStateDict(model.StateDict());</c> (or the <c>factory</c> of
    /// <see cref="AveragedModel"/>).</para>
    /// </remarks>
    /// <returns>The copy, of the module's type.</returns>
    /// <exception cref="NotSupportedException">The copy would share a module, parameter or buffer with this module; the message names the module that holds it.</exception>
    /// <exception cref="InvalidOperationException">A registered name is empty, holds a dot or repeats, or a child, parameter or buffer is null.</exception>
    /// <example><code>
    /// var teacher = (Sequential)student.DeepCopy();
    /// teacher.Eval();   // the student stays in training mode, with weights of its own
    /// </code></example>
    public Module DeepCopy() => ModuleCopier.Copy(this);

    /// <summary>
    /// The module's own buffers that stand for PyTorch's int64 tensors (counters: BatchNorm's <c>num_batches_tracked</c>,
    /// AveragedModel's <c>n_averaged</c>), which averaging treats as integers.
    /// </summary>
    internal virtual IEnumerable<Tensor> IntegerBuffers() => [];

    /// <summary>One value of the state dict: its key, the live array and the shape.</summary>
    private readonly record struct StateEntry(string Key, float[] Data, int[] Shape);

    /// <summary>The state dict's entries, live, in PyTorch's order; shared parameters and modules under each of their names.</summary>
    private List<StateEntry> StateEntries()
    {
        var entries = new List<StateEntry>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var path = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        Collect(this, "");
        return entries;

        void Collect(Module m, string prefix)
        {
            if (!path.Add(m)) throw new InvalidOperationException($"The module {m.GetType().Name} at '{prefix}' contains itself.");
            foreach (var (name, p) in m.LocalParameters()) Add(m, Join(prefix, name), p.Data, p.Shape);
            foreach (var (name, b) in m.LocalBuffers()) Add(m, Join(prefix, name), b.Data, b.ShapeArray);
            foreach (var (name, child) in Children(m)) Collect(child, Join(prefix, name));
            path.Remove(m);
        }

        void Add(Module m, string key, float[] data, int[] shape)
        {
            // a parameter, a buffer or a child of one module under the same name (PyTorch's attribute names are unique)
            if (!keys.Add(key)) throw new InvalidOperationException($"{m.GetType().Name} holds two values named '{key}'.");
            entries.Add(new(key, data, shape));
        }
    }

    /// <summary>This module's own parameters, by name: the registered ones, or those of an older-style <see cref="Parameters"/> override.</summary>
    private List<(string Name, Parameter Parameter)> LocalParameters()
    {
        var registered = Checked(RegisteredParameters(), "parameter");
        if (registered.Count > 0 || !OverridesParameters(GetType()) || RegisteredChildren().Any()) return registered;
        var list = Parameters().ToList();
        if (list.Any(p => p is null)) throw new InvalidOperationException($"{GetType().Name}.Parameters() returned a null parameter.");
        var parts = list.Select(p => p.Name is { Length: > 0 } n ? n[(n.LastIndexOf('.') + 1)..] : null).ToList();
        bool named = parts.All(n => !string.IsNullOrEmpty(n)) && parts.Distinct(StringComparer.Ordinal).Count() == parts.Count;
        return list.Select((p, i) => (named ? parts[i]! : i.ToString(System.Globalization.CultureInfo.InvariantCulture), p)).ToList();
    }

    private List<(string Name, Tensor Buffer)> LocalBuffers() => Checked(RegisteredBuffers(), "buffer");

    private static List<(string Name, Module Module)> Children(Module m) => m.Checked(m.RegisteredChildren(), "child module");

    /// <summary>The registered names and values, checked: no null, no empty or dotted name, no name twice in one module.</summary>
    private List<(string Name, T Value)> Checked<T>(IEnumerable<(string Name, T Value)> items, string what) where T : class
    {
        var list = items.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in list)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('.'))
                throw new InvalidOperationException($"{GetType().Name} registers a {what} named '{name}'; a name must be non-empty and hold no dot.");
            if (value is null) throw new InvalidOperationException($"{GetType().Name} registers a null {what} '{name}'.");
            if (!names.Add(name)) throw new InvalidOperationException($"{GetType().Name} registers the {what} name '{name}' twice.");
        }
        return list;
    }

    /// <summary>Whether a module type declares its parameters the older way, by overriding <see cref="Parameters"/>.</summary>
    private static bool OverridesParameters(Type type) => s_overridesParameters.GetOrAdd(type, static t =>
    {
        var m = t.GetMethod(nameof(Parameters), BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes)!;
        return m.DeclaringType != typeof(Module) && m.GetBaseDefinition().DeclaringType == typeof(Module);
    });

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => $"\"{k}\""));
}
