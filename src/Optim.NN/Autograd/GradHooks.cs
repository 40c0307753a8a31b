using System.Runtime.CompilerServices;
using Optim.CSharp;

namespace Optim.NN.Autograd;

/// <summary>
/// The post-accumulate-grad hooks of parameters (<see cref="Tensor.RegisterPostAccumulateGradHook"/>), kept beside
/// the parameters rather than in them, so that a parameter that is collected takes its hooks with it.
/// </summary>
internal static class GradHooks
{
    private static readonly ConditionalWeakTable<Parameter, Action<Parameter>[]> s_hooks = new();
    private static readonly Lock s_lock = new();
    private static int s_count; // no lookup on the backward pass while no hook exists anywhere

    public static IDisposable Register(Parameter parameter, Action<Parameter> hook)
    {
        lock (s_lock)
        {
            var hooks = s_hooks.TryGetValue(parameter, out var old) ? [.. old, hook] : new[] { hook };
            s_hooks.AddOrUpdate(parameter, hooks);
            s_count++;
        }
        return new Handle(parameter, hook);
    }

    /// <summary>Runs <paramref name="parameter"/>'s hooks in the order they were registered.</summary>
    public static void Run(Parameter parameter)
    {
        if (Volatile.Read(ref s_count) == 0 || !s_hooks.TryGetValue(parameter, out var hooks)) return;
        foreach (var hook in hooks) hook(parameter);
    }

    private sealed class Handle(Parameter parameter, Action<Parameter> hook) : IDisposable
    {
        private bool _removed;

        public void Dispose()
        {
            lock (s_lock)
            {
                if (_removed) return;
                _removed = true;
                if (!s_hooks.TryGetValue(parameter, out var hooks)) return;
                int at = Array.IndexOf(hooks, hook);
                if (at < 0) return;
                var rest = hooks.Where((_, i) => i != at).ToArray();
                if (rest.Length == 0) s_hooks.Remove(parameter); else s_hooks.AddOrUpdate(parameter, rest);
                s_count--;
            }
        }
    }
}
