namespace Optim.CSharp;

/// <summary>Argument checks shared by the schedulers' constructors: the exception names the argument, PyTorch's key and the value.</summary>
internal static class SchedulerArgs
{
    private static ArgumentOutOfRangeException Bad(string name, string key, object value, string rule) =>
        new(name, value, $"Invalid {key} value: {value}; it must be {rule}.");

    public static int AtLeast(int value, int min, string name, string key) =>
        value >= min ? value : throw Bad(name, key, value, $"{min} or more");

    public static double NonNegative(double value, string name, string key) =>
        value >= 0 && double.IsFinite(value) ? value : throw Bad(name, key, value, "a finite number, 0 or more");

    public static double Finite(double value, string name, string key) =>
        double.IsFinite(value) ? value : throw Bad(name, key, value, "a finite number");

    public static double InRange(double value, double low, bool lowOpen, double high, string name, string key) =>
        (lowOpen ? value > low : value >= low) && value <= high ? value
        : throw Bad(name, key, value, $"in {(lowOpen ? "(" : "[")}{low}, {high}]");

    public static string OneOf(string value, string name, string key, params string[] options)
    {
        ArgumentNullException.ThrowIfNull(value, name);
        return Array.IndexOf(options, value) >= 0 ? value
            : throw new ArgumentException($"{key} must be one of {string.Join(", ", options.Select(o => $"'{o}'"))}, but got '{value}'.", name);
    }

    public static bool IsNonNegative(double x) => x >= 0 && double.IsFinite(x);
}
