namespace Optim.NN;

/// <summary>PyTorch's default initialisation of <c>nn.Linear</c> (<c>reset_parameters</c>).</summary>
internal static class Init
{
    /// <summary>
    /// <c>kaiming_uniform_(w, a=√5)</c>: gain = √(2 / (1 + a²)) = √(1/3), std = gain / √fanIn, bound = √3·std,
    /// which is <c>1/√fanIn</c>; computed in double as PyTorch does.
    /// </summary>
    public static double KaimingBound(int fanIn)
    {
        if (fanIn == 0) return 0;
        double a = Math.Sqrt(5.0);
        double gain = Math.Sqrt(2.0 / (1 + a * a));
        return Math.Sqrt(3.0) * (gain / Math.Sqrt(fanIn));
    }

    /// <summary>The bias bound <c>1/√fanIn</c> (0 when there are no inputs).</summary>
    public static double BiasBound(int fanIn) => fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;

    public static float[] KaimingUniform(Random random, int count, int fanIn) => Uniform(random, count, KaimingBound(fanIn));

    /// <summary><paramref name="count"/> values uniform in <c>[−bound, bound)</c>.</summary>
    public static float[] Uniform(Random random, int count, double bound)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(-bound + 2 * bound * random.NextDouble());
        return values;
    }
}
