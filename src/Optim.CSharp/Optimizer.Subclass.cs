using System.Diagnostics.CodeAnalysis;
using Optim;

namespace Optim.CSharp;

// The protected API through which users write optimizers of their own, as they subclass torch.optim.Optimizer.
public abstract partial class Optimizer
{
    // a parameter's index in _all (which only grows), for the state lookups of a subclass's step
    private readonly Dictionary<Parameter, int> _indexOf = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// For an optimizer of your own, written as a subclass, as <c>torch.optim.Optimizer.__init__(params, defaults)</c>:
    /// one param group over <paramref name="parameters"/>.
    /// See <see cref="Optimizer(IEnumerable{ParamGroup}, OptimizerDefaults, string, string[])"/>.
    /// </summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="defaults">The hyperparameters groups take when they do not set them.</param>
    /// <param name="kind">The optimizer's name in its state dicts (<c>"Lamb"</c>): a state dict loads only into an optimizer of the same kind.</param>
    /// <param name="stateNames">The per-parameter state buffers the optimizer keeps, each of its parameter's shape (<c>"exp_avg"</c>, …).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">There are no parameters, <paramref name="kind"/> is empty, or a state name is empty,
    /// <c>"step"</c> or given twice.</exception>
    protected Optimizer(IEnumerable<Parameter> parameters, OptimizerDefaults defaults, string kind, params string[] stateNames)
        : this(Single(parameters), defaults, kind, stateNames) { }

    /// <summary>
    /// For an optimizer of your own, written as a subclass, as <c>torch.optim.Optimizer.__init__(params, defaults)</c>:
    /// the subclass gets <see cref="ZeroGrad"/>, <see cref="Step"/>, <see cref="AddParamGroup"/>,
    /// <see cref="StateDict"/>/<see cref="LoadStateDict"/> and every learning-rate scheduler, and writes only the update
    /// of one parameter, <see cref="StepParameter"/>.
    /// </summary>
    /// <remarks>
    /// <para><see cref="Step"/> validates every group (<see cref="ValidateGroup"/>), then, for each parameter that has a
    /// gradient and <see cref="Parameter.RequiresGrad"/>, in the order of the groups, counts the step
    /// (<see cref="GetStep"/>) and calls <see cref="StepParameter"/> on the caller's thread. A parameter without a gradient
    /// keeps its values, its step count and its state.</para>
    /// <para>The state (step counts and the buffers named by <paramref name="stateNames"/>) is the library's own
    /// per-parameter state, so a state dict of a subclass has the layout of the built-in optimizers':
    /// <c>{"optimizer": kind, "state": {"0": {"step": 3, "exp_avg": [...]}}, "param_groups": [...], ...}</c>.</para>
    /// </remarks>
    /// <example>
    /// <code>
    /// public sealed class SignSgd : Optimizer
    /// {
    ///     public SignSgd(IEnumerable&lt;Parameter&gt; parameters, double lr)
    ///         : base(parameters, new OptimizerDefaults { { "lr", lr } }, "SignSGD") { }
    ///
    ///     protected override void StepParameter(ParamGroup group, Parameter p, ReadOnlySpan&lt;float&gt; grad)
    ///     {
    ///         float lr = (float)group.Lr;
    ///         for (int i = 0; i &lt; grad.Length; i++) p.Data[i] -= lr * MathF.Sign(grad[i]);
    ///     }
    /// }
    /// </code>
    /// </example>
    /// <param name="groups">The param groups.</param>
    /// <param name="defaults">The hyperparameters groups take when they do not set them.</param>
    /// <param name="kind">The optimizer's name in its state dicts (<c>"Lamb"</c>): a state dict loads only into an optimizer of the same kind.</param>
    /// <param name="stateNames">The per-parameter state buffers the optimizer keeps, each of its parameter's shape (<c>"exp_avg"</c>, …).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">There are no groups, a parameter is in two groups, a group fails
    /// <see cref="ValidateGroup"/>, <paramref name="kind"/> is empty, or a state name is empty, <c>"step"</c> or given twice.</exception>
    protected Optimizer(IEnumerable<ParamGroup> groups, OptimizerDefaults defaults, string kind, params string[] stateNames)
        : this(groups, Describe(defaults, kind, stateNames)) { }

    /// <summary>
    /// Updates one parameter in place, <see cref="Parameter.Data"/>, from its gradient: the body of the loop over
    /// <c>group["params"]</c> in the <c>step()</c> of a <c>torch.optim.Optimizer</c> subclass. <see cref="Step"/> calls
    /// it for every parameter that has a gradient, after counting the step.
    /// </summary>
    /// <remarks>Read the hyperparameters from <paramref name="group"/> (<see cref="ParamGroup.Lr"/>, <c>group["eps"]</c>,
    /// <see cref="ParamGroup.Betas"/>: a scheduler may have changed them since the last step), and the state with
    /// <see cref="GetState"/>, <see cref="TryGetState"/> and <see cref="GetStep"/>. Only optimizers written as subclasses
    /// call it; the base throws, as <c>torch.optim.Optimizer.step</c> raises <c>NotImplementedError</c>.</remarks>
    /// <param name="group">The parameter's group.</param>
    /// <param name="parameter">The parameter.</param>
    /// <param name="grad">Its gradient, <see cref="Parameter.Grad"/>.</param>
    /// <exception cref="NotImplementedException">The subclass does not override it.</exception>
    protected virtual void StepParameter(ParamGroup group, Parameter parameter, ReadOnlySpan<float> grad) =>
        throw new NotImplementedException($"{GetType().Name} must override StepParameter, as a torch.optim.Optimizer subclass overrides step().");

    /// <summary>
    /// Checks a group's hyperparameters, throwing an <see cref="ArgumentException"/> that names the bad one: when the group
    /// is added (with the defaults filled in; the group is then left as it was), before every <see cref="Step"/> (which then
    /// updates nothing) and on the values of a state dict being loaded (which then changes nothing). The base accepts any values.
    /// </summary>
    /// <param name="group">The group.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid.</exception>
    protected virtual void ValidateGroup(ParamGroup group) { }

    /// <summary>
    /// A parameter's state buffer, PyTorch's <c>self.state[p][name]</c>: created as zeros of the parameter's length on
    /// first use. Write into it: it is the optimizer's state, saved by <see cref="StateDict"/>.
    /// </summary>
    /// <param name="parameter">A parameter of this optimizer.</param>
    /// <param name="name">One of the state names given to the constructor.</param>
    /// <returns>The live buffer.</returns>
    /// <exception cref="ArgumentException">The parameter is not in this optimizer, or the name was not declared.</exception>
    protected float[] GetState(Parameter parameter, string name)
    {
        var buffers = BuffersOf(name);
        int i = IndexOf(parameter);
        return buffers[i] ??= new float[parameter.Numel];
    }

    /// <summary>
    /// A parameter's state buffer if it exists, as PyTorch's <c>name in self.state[p]</c>: false before the parameter's
    /// first <see cref="GetState"/> (after a <see cref="LoadStateDict"/>, whenever the state dict held none).
    /// </summary>
    /// <param name="parameter">A parameter of this optimizer.</param>
    /// <param name="name">One of the state names given to the constructor.</param>
    /// <param name="buffer">The live buffer, or null.</param>
    /// <returns>Whether the buffer exists.</returns>
    /// <exception cref="ArgumentException">The parameter is not in this optimizer, or the name was not declared.</exception>
    protected bool TryGetState(Parameter parameter, string name, [NotNullWhen(true)] out float[]? buffer)
    {
        var buffers = BuffersOf(name);
        buffer = buffers[IndexOf(parameter)];
        return buffer is not null;
    }

    /// <summary>
    /// How many steps a parameter has taken, PyTorch's <c>state[p]["step"]</c>. <see cref="Step"/> counts a step before
    /// it calls <see cref="StepParameter"/>, so inside it the count is 1 on the parameter's first step.
    /// </summary>
    /// <param name="parameter">A parameter of this optimizer.</param>
    /// <returns>The count.</returns>
    /// <exception cref="ArgumentException">The parameter is not in this optimizer.</exception>
    protected long GetStep(Parameter parameter) => _state.Steps[IndexOf(parameter)];

    /// <summary>Whether this optimizer is a subclass's own, stepped by <see cref="StepParameter"/>.</summary>
    private bool IsSubclass => _defaults.StateNames is not null;

    private static Defaults Describe(OptimizerDefaults defaults, string kind, string[] stateNames)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(stateNames);
        if (string.IsNullOrWhiteSpace(kind))
            throw new ArgumentException("The optimizer's kind names it in its state dicts; it cannot be empty.", nameof(kind));
        var seen = new HashSet<string>();
        foreach (var name in stateNames)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("A state buffer needs a name.", nameof(stateNames));
            if (name == "step")
                throw new ArgumentException("'step' is the step count every parameter keeps; a state buffer cannot take that name.", nameof(stateNames));
            if (!seen.Add(name)) throw new ArgumentException($"The state buffer '{name}' is declared twice.", nameof(stateNames));
        }
        return defaults.ToDefaults(kind, (string[])stateNames.Clone());
    }

    private State SubclassInitState(CoreTensor[] parameters)
    {
        var state = StateModule.empty(parameters.Length);
        foreach (var name in _defaults.StateNames!) state = StateModule.declare(name, state);
        return state;
    }

    /// <summary>Checks that the group holds every default key in its form (a missing one: KeyNotFoundException), then the subclass's rules.</summary>
    private void SubclassValidate(ParamGroup group)
    {
        foreach (var (key, _) in _defaults.Scalars) _ = group[key];
        foreach (var (key, _) in _defaults.Pairs) _ = group.GetPair(key);
        ValidateGroup(group);
    }

    private void SubclassStep(int group, State state, int index, ReadOnlySpan<float> grad)
    {
        state.Steps[index]++;
        StepParameter(_groups[group], _all[index], grad);
    }

    private float[][] BuffersOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var declared = _defaults.StateNames ?? [];
        if (Array.IndexOf(declared, name) < 0)
            throw new ArgumentException(
                $"{_defaults.Kind} declares no state buffer '{name}' (it declares: {string.Join(", ", declared)}); name it in the constructor's stateNames.",
                nameof(name));
        return StateModule.buffer(name, _state);
    }

    private int IndexOf(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        for (int i = _indexOf.Count; i < _all.Count; i++) _indexOf[_all[i]] = i;
        return _indexOf.TryGetValue(parameter, out var index) ? index
            : throw new ArgumentException($"{parameter} is in no param group of this optimizer.", nameof(parameter));
    }
}
