namespace Optim.CSharp;

// PyTorch 2.x's optimizer hooks: around Step (per optimizer and global), StateDict and LoadStateDict.
public abstract partial class Optimizer
{
    private static readonly Hooks<Action<Optimizer>> s_stepPreHooks = new(), s_stepPostHooks = new();
    private readonly Hooks<Action<Optimizer>> _stepPreHooks = new(), _stepPostHooks = new();
    private readonly Hooks<Action<Optimizer>> _stateDictPreHooks = new(), _loadStateDictPostHooks = new();
    private readonly Hooks<Func<Optimizer, StateDict, StateDict?>> _stateDictPostHooks = new(), _loadStateDictPreHooks = new();

    /// <summary>
    /// Registers a hook that <see cref="Step"/> calls with this optimizer before it steps (before the closure), as
    /// <c>register_step_pre_hook</c>. Hooks run in the order they were registered, after the global ones
    /// (<see cref="RegisterOptimizerStepPreHook"/>).
    /// </summary>
    /// <remarks>PyTorch calls <c>hook(optimizer, args, kwargs)</c> and lets it return new arguments for <c>step</c>; here the
    /// hook gets the optimizer only and cannot replace the closure (<c>docs/parity.md</c>). A hook that throws stops the step
    /// before anything of it has happened, and the exception reaches the caller of <see cref="Step"/>.</remarks>
    /// <param name="hook">Called with the optimizer.</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterStepPreHook(Action<Optimizer> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _stepPreHooks.Add(hook, prepend: false);
    }

    /// <summary>
    /// Registers a hook that <see cref="Step"/> calls with this optimizer after it has stepped, as
    /// <c>register_step_post_hook</c>. Hooks run in the order they were registered, before the global ones
    /// (<see cref="RegisterOptimizerStepPostHook"/>).
    /// </summary>
    /// <remarks>PyTorch calls <c>hook(optimizer, args, kwargs)</c>; here the hook gets the optimizer only. A hook that throws
    /// does so after the whole step has been applied; the exception reaches the caller of <see cref="Step"/>.</remarks>
    /// <param name="hook">Called with the optimizer.</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterStepPostHook(Action<Optimizer> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _stepPostHooks.Add(hook, prepend: false);
    }

    /// <summary>
    /// Registers a hook that every optimizer's <see cref="Step"/> calls with the optimizer before it steps, as
    /// <c>torch.optim.optimizer.register_optimizer_step_pre_hook</c>: global hooks run before the optimizer's own, in the
    /// order they were registered. It may be registered and removed from any thread.
    /// </summary>
    /// <param name="hook">Called with the optimizer that steps.</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public static RemovableHandle RegisterOptimizerStepPreHook(Action<Optimizer> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return s_stepPreHooks.Add(hook, prepend: false);
    }

    /// <summary>
    /// Registers a hook that every optimizer's <see cref="Step"/> calls with the optimizer after it has stepped, as
    /// <c>torch.optim.optimizer.register_optimizer_step_post_hook</c>: global hooks run after the optimizer's own, in the
    /// order they were registered. It may be registered and removed from any thread.
    /// </summary>
    /// <param name="hook">Called with the optimizer that stepped.</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public static RemovableHandle RegisterOptimizerStepPostHook(Action<Optimizer> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return s_stepPostHooks.Add(hook, prepend: false);
    }

    /// <summary>
    /// Registers a hook that <see cref="StateDict"/> calls with this optimizer before it builds the state dict, as
    /// <c>register_state_dict_pre_hook</c>.
    /// </summary>
    /// <param name="hook">Called with the optimizer.</param>
    /// <param name="prepend">Whether the hook runs before the hooks already registered (by default, after them).</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterStateDictPreHook(Action<Optimizer> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _stateDictPreHooks.Add(hook, prepend);
    }

    /// <summary>
    /// Registers a hook that <see cref="StateDict"/> calls with this optimizer and the state dict it built, as
    /// <c>register_state_dict_post_hook</c>: a state dict the hook returns replaces it (for the next hooks, and as what
    /// <see cref="StateDict"/> returns); null keeps it.
    /// </summary>
    /// <remarks>A <see cref="CSharp.StateDict"/> cannot be changed in place, as PyTorch's dict can: a hook that changes it
    /// returns a new one (<see cref="CSharp.StateDict.FromJson"/> of an edited <see cref="CSharp.StateDict.ToJson"/>).</remarks>
    /// <param name="hook">Called with the optimizer and the state dict; returns its replacement, or null.</param>
    /// <param name="prepend">Whether the hook runs before the hooks already registered (by default, after them).</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterStateDictPostHook(Func<Optimizer, StateDict, StateDict?> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _stateDictPostHooks.Add(hook, prepend);
    }

    /// <summary>
    /// Registers a hook that <see cref="LoadStateDict"/> calls with this optimizer and the state dict to load, before it
    /// checks or loads anything, as <c>register_load_state_dict_pre_hook</c>: a state dict the hook returns is loaded
    /// instead (and the next hooks see it); null keeps it.
    /// </summary>
    /// <remarks>A hook that throws leaves the optimizer exactly as it was; the exception reaches the caller of
    /// <see cref="LoadStateDict"/>.</remarks>
    /// <param name="hook">Called with the optimizer and the state dict; returns its replacement, or null.</param>
    /// <param name="prepend">Whether the hook runs before the hooks already registered (by default, after them).</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterLoadStateDictPreHook(Func<Optimizer, StateDict, StateDict?> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _loadStateDictPreHooks.Add(hook, prepend);
    }

    /// <summary>
    /// Registers a hook that <see cref="LoadStateDict"/> calls with this optimizer after it has loaded a state dict, as
    /// <c>register_load_state_dict_post_hook</c>.
    /// </summary>
    /// <remarks>A hook that throws does so after the whole state dict has been loaded; the exception reaches the caller of
    /// <see cref="LoadStateDict"/>.</remarks>
    /// <param name="hook">Called with the optimizer.</param>
    /// <param name="prepend">Whether the hook runs before the hooks already registered (by default, after them).</param>
    /// <returns>The handle that removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    public RemovableHandle RegisterLoadStateDictPostHook(Action<Optimizer> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return _loadStateDictPostHooks.Add(hook, prepend);
    }

    private void RunHooks((object Id, Action<Optimizer> Hook)[] hooks)
    {
        foreach (var (_, hook) in hooks) hook(this);
    }

    private StateDict RunStateDictHooks((object Id, Func<Optimizer, StateDict, StateDict?> Hook)[] hooks, StateDict state)
    {
        foreach (var (_, hook) in hooks) state = hook(this, state) ?? state;
        return state;
    }
}
