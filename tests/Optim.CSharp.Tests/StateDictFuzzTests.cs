using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Optim.CSharp.Tests;

/// <summary>
/// Seeded fuzzing of the JSON readers: each mutated state dict is either rejected with the documented exception
/// (<see cref="ArgumentException"/>; <see cref="CheckpointException"/> for an optimizer's) and the optimizer or scheduler
/// unchanged, or accepted with exactly the content the text says. No other exception, no crash, no hang.
/// </summary>
public class StateDictFuzzTests
{
    private const int Mutations = 10_000;

    private static readonly string[] Replacements =
    [
        "1e19", "9223372036854775807", "9007199254740993", "-1", "-0.5", "0", "2.5", "1e308", "-1e308", "true", "false",
        "null", "\"Infinity\"", "\"-Infinity\"", "\"NaN\"", "\"x\"", "[]", "{}", "[1]", "[1, 2, 3]", "[0.9, 0.999]",
        "2147483647", "2147483648", "[50000, 50000]", "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
    ];

    /// <summary>One mutation of a JSON text: a token replaced, a key dropped or doubled, a byte flipped, a cut.</summary>
    internal static string Mutate(string json, Random rng)
    {
        switch (rng.Next(6))
        {
            case 0:
            case 1:
            {
                // replace one value (a number, a literal or a string) with an edge value
                var spans = Values(json);
                if (spans.Count == 0) goto default;
                var (start, length) = spans[rng.Next(spans.Count)];
                return json[..start] + Replacements[rng.Next(Replacements.Length)] + json[(start + length)..];
            }
            case 2:
            {
                // drop one "key": value pair of an object
                var root = JsonNode.Parse(json)!;
                var objects = Objects(root).Where(o => o.Count > 0).ToList();
                var o = objects[rng.Next(objects.Count)];
                o.Remove(o.ElementAt(rng.Next(o.Count)).Key);
                return root.ToJsonString();
            }
            case 3:
            {
                // give one key twice, with the same or another value
                var keys = Keys(json);
                var (start, length) = keys[rng.Next(keys.Count)];
                string key = json.Substring(start, length);
                string value = rng.Next(2) == 0 ? "0.5" : Replacements[rng.Next(Replacements.Length)];
                return json[..start] + key + ":" + value + "," + json[start..];
            }
            case 4:
            {
                var bytes = Encoding.UTF8.GetBytes(json);
                bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                return Encoding.UTF8.GetString(bytes);
            }
            default:
                return json[..rng.Next(json.Length)];
        }
    }

    private static IEnumerable<JsonObject> Objects(JsonNode? n)
    {
        if (n is JsonObject o)
        {
            yield return o;
            foreach (var (_, v) in o) foreach (var x in Objects(v)) yield return x;
        }
        else if (n is JsonArray a) foreach (var v in a) foreach (var x in Objects(v)) yield return x;
    }

    /// <summary>The spans of scalar values (numbers, literals, strings that are not keys).</summary>
    private static List<(int Start, int Length)> Values(string json)
    {
        var spans = new List<(int, int)>();
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (c == '"')
            {
                int end = json.IndexOf('"', i + 1);
                if (end < 0) break;
                bool key = end + 1 < json.Length && json[end + 1] == ':';
                if (!key) spans.Add((i, end - i + 1));
                i = end;
            }
            else if (c == '-' || char.IsDigit(c) || c == 't' || c == 'f' || c == 'n')
            {
                int end = i;
                while (end < json.Length && json[end] is not (',' or ']' or '}' or ' ')) end++;
                spans.Add((i, end - i));
                i = end - 1;
            }
        }
        return spans;
    }

    private static List<(int Start, int Length)> Keys(string json)
    {
        var spans = new List<(int, int)>();
        for (int i = 0; i < json.Length; i++)
            if (json[i] == '"')
            {
                int end = json.IndexOf('"', i + 1);
                if (end < 0) break;
                if (end + 1 < json.Length && json[end + 1] == ':') spans.Add((i, end - i + 1));
                i = end;
            }
        return spans;
    }

    private static Adam Trained(out Parameter[] ps)
    {
        ps = [new Parameter([1f, -2f, 3f, 0.5f, 2f, -1f], 2, 3) { Name = "w" }, new Parameter([0.25f, -0.75f]) { Name = "b" }];
        var opt = new Adam(ps, lr: 0.01, amsgrad: true);
        for (int t = 0; t < 3; t++)
        {
            foreach (var p in ps) p.Grad = p.Data.Select((x, i) => (float)Math.Sin(x + i + t)).ToArray();
            opt.Step();
        }
        return opt;
    }

    [Fact]
    public void Mutated_optimizer_state_dicts_are_rejected_unchanged_or_loaded_as_written()
    {
        var opt = Trained(out var ps);
        string original = opt.StateDict().ToJson();
        var rng = new Random(20261202);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < Mutations; i++)
        {
            string json = Mutate(original, rng);
            string before = opt.StateDict().ToJson();
            var values = ps.Select(p => p.Data.ToArray()).ToArray();
            try
            {
                opt.LoadStateDict(StateDict.FromJson(json));
                accepted++;
                AssertLoadedAsWritten(json, opt.StateDict().ToJson(), i);
            }
            catch (ArgumentException e)
            {
                rejected++;
                Assert.True(e is CheckpointException, $"mutation {i}: {e.GetType().Name} ({e.Message}) for {json}");
                Assert.True(before == opt.StateDict().ToJson(), $"mutation {i} was rejected but changed the optimizer: {json}");
            }
            for (int k = 0; k < ps.Length; k++) Assert.Equal(values[k], ps[k].Data);
            // go back to the original state for the next mutation
            opt.LoadStateDict(StateDict.FromJson(original));
        }
        Assert.True(rejected > Mutations / 2 && accepted > 100, $"{rejected} rejected, {accepted} accepted");
    }

    /// <summary>Every state value and hyperparameter the text gives is what the optimizer now holds.</summary>
    private static void AssertLoadedAsWritten(string input, string saved, int i)
    {
        var a = JsonNode.Parse(input)!.AsObject();
        var b = JsonNode.Parse(saved)!.AsObject();
        foreach (var (index, entry) in a["state"]!.AsObject())
            foreach (var (key, value) in entry!.AsObject())
            {
                var got = b["state"]![index]?[key];
                Assert.True(got is not null, $"mutation {i}: state[{index}].{key} was given but is not held: {input}");
                Assert.True(Same(value, got, key != "step"), $"mutation {i}: state[{index}].{key} is {got!.ToJsonString()}, the text says {value!.ToJsonString()}");
            }
        var groups = a["param_groups"]!.AsArray();
        for (int g = 0; g < groups.Count; g++)
            foreach (var (key, value) in groups[g]!.AsObject())
            {
                var got = b["param_groups"]![g]![key];
                Assert.True(got is not null && Same(value, got, false), $"mutation {i}: param_groups[{g}].{key} is {got?.ToJsonString()}, the text says {value!.ToJsonString()}");
            }
    }

    private static bool Same(JsonNode? x, JsonNode? y, bool asFloat32)
    {
        if (x is JsonArray xa && y is JsonArray ya)
            return xa.Count == ya.Count && xa.Zip(ya).All(p => Same(p.First, p.Second, asFloat32));
        if (x is JsonObject xo && y is JsonObject yo)
            return xo.Count == yo.Count && xo.All(kv => yo.ContainsKey(kv.Key) && Same(kv.Value, yo[kv.Key], asFloat32));
        if (Number(x) is { } u && Number(y) is { } v)
            return asFloat32 ? ((float)u).Equals((float)v) : u.Equals(v);
        return x?.ToJsonString() == y?.ToJsonString();
    }

    private static double? Number(JsonNode? n) => n is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number
        ? v.GetValue<double>()
        : n is JsonValue s && s.GetValueKind() == System.Text.Json.JsonValueKind.String && s.GetValue<string>() is "NaN" or "Infinity" or "-Infinity"
            ? double.Parse(s.GetValue<string>() == "Infinity" ? "Infinity" : s.GetValue<string>(), CultureInfo.InvariantCulture)
            : null;

    [Fact]
    public void Mutated_scheduler_state_dicts_are_rejected_unchanged_or_loaded_as_written()
    {
        var opt = new SGD([new Parameter([1f, 2f])], lr: 0.1, momentum: 0.9);
        var scheduler = new OneCycleLR(opt, 0.5, epochs: 4, stepsPerEpoch: 10);
        for (int i = 0; i < 7; i++) { opt.Step(); scheduler.Step(); }
        string original = scheduler.StateDict().ToJson();
        string optimizerState = opt.StateDict().ToJson();
        var rng = new Random(20261203);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < Mutations; i++)
        {
            string json = Mutate(original, rng);
            string before = scheduler.StateDict().ToJson();
            try
            {
                scheduler.LoadStateDict(SchedulerStateDict.FromJson(json));
                accepted++;
                var a = JsonNode.Parse(json)!["state"]!.AsObject();
                var b = JsonNode.Parse(scheduler.StateDict().ToJson())!["state"]!.AsObject();
                foreach (var (key, value) in a)
                {
                    // with cycle_momentum off, a OneCycleLR keeps no momenta: the text's are read as nothing to keep
                    bool dropped = key is "base_momentum" or "max_momentum" && Number(a["cycle_momentum"]) == 0;
                    Assert.True(dropped ? b[key] is null : b[key] is { } got && Same(value, got, false),
                        $"mutation {i}: '{key}' is {b[key]?.ToJsonString()}, the text says {value?.ToJsonString()}");
                }
                // and it can go on stepping, to the end of its cycle (past it, OneCycleLR throws, as PyTorch's does)
                for (int s = 0; s < 3 && scheduler.LastEpoch < (int)b["total_steps"]!.GetValue<double>(); s++) { opt.Step(); scheduler.Step(); }
            }
            catch (ArgumentException)
            {
                rejected++;
                Assert.True(before == scheduler.StateDict().ToJson(), $"mutation {i} was rejected but changed the scheduler: {json}");
            }
            opt.LoadStateDict(StateDict.FromJson(optimizerState));
            scheduler.LoadStateDict(SchedulerStateDict.FromJson(original));
        }
        Assert.True(rejected > Mutations / 3 && accepted > 100, $"{rejected} rejected, {accepted} accepted");
    }
}
