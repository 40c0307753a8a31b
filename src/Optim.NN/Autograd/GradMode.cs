namespace Optim.NN.Autograd;

/// <summary>Whether operations record a graph on this thread (PyTorch's grad mode).</summary>
internal static class GradMode
{
    [ThreadStatic] private static int _disabled;

    public static bool Enabled => _disabled == 0;

    /// <summary>Disables recording until the returned scope is disposed; scopes nest.</summary>
    public static IDisposable Disable()
    {
        _disabled++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _disabled--;
        }
    }
}
