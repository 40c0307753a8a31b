namespace Optim.CSharp;

/// <summary>
/// What registering a hook returns, as PyTorch's <c>torch.utils.hooks.RemovableHandle</c>: <see cref="Remove"/> (or
/// <see cref="Dispose"/>, for a <c>using</c> scope) unregisters the hook. Removing twice is harmless.
/// </summary>
/// <example>
/// <code>
/// using (optimizer.RegisterStepPostHook(o => Console.WriteLine("stepped")))
///     optimizer.Step();   // prints "stepped"
/// optimizer.Step();       // prints nothing
/// </code>
/// </example>
public sealed class RemovableHandle : IDisposable
{
    private Action? _remove;

    internal RemovableHandle(Action remove) => _remove = remove;

    /// <summary>Unregisters the hook, as <c>handle.remove()</c>; a hook already removed stays removed.</summary>
    public void Remove() => Interlocked.Exchange(ref _remove, null)?.Invoke();

    /// <summary>Unregisters the hook: the same as <see cref="Remove"/>.</summary>
    public void Dispose() => Remove();
}

/// <summary>
/// The hooks of one kind, in the order they run. Registering and removing replace the array, so that running them reads
/// one array (nothing allocated, and a hook that registers or removes hooks changes only the next run).
/// </summary>
internal sealed class Hooks<T> where T : Delegate
{
    private readonly object _lock = new();
    private (object Id, T Hook)[] _items = [];

    /// <summary>The hooks now registered, in the order they run.</summary>
    public (object Id, T Hook)[] Items => Volatile.Read(ref _items);

    public RemovableHandle Add(T hook, bool prepend)
    {
        var id = new object();
        lock (_lock) _items = prepend ? [(id, hook), .. _items] : [.. _items, (id, hook)];
        return new RemovableHandle(() => Remove(id));
    }

    private void Remove(object id)
    {
        lock (_lock) _items = Array.FindAll(_items, x => !ReferenceEquals(x.Id, id));
    }
}
