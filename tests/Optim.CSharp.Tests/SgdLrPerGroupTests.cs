namespace Optim.CSharp.Tests;

/// <summary>
/// SGD's <c>lr</c> may be left out when every group sets its own, as PyTorch's <c>lr=required</c>: then each group,
/// added later too, must set it.
/// </summary>
public sealed class SgdLrPerGroupTests
{
    [Fact]
    public void WithoutLrEveryGroupStepsWithItsOwn()
    {
        var a = new Parameter([1f, 2f]) { Grad = [1f, 1f] };
        var b = new Parameter([3f]) { Grad = [2f] };
        var opt = new SGD([new ParamGroup([a]) { ["lr"] = 0.5 }, new ParamGroup([b]) { ["lr"] = 0.25 }], momentum: 0.9);
        opt.Step();
        Assert.Equal([0.5f, 1.5f], a.Data);
        Assert.Equal([2.5f], b.Data);
        Assert.Equal(0.9, opt.ParamGroups[1]["momentum"]);
    }

    [Fact]
    public void AGroupWithoutLrIsRefusedNamingLr()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new SGD([new ParamGroup([new Parameter([1f])]) { ["lr"] = 0.1 }, new ParamGroup([new Parameter([2f])])]));
        Assert.Equal("lr", e.ParamName);
        Assert.Contains("Param group 1 does not set 'lr'", e.Message);
    }

    [Fact]
    public void AGroupAddedLaterWithoutLrIsRefusedAndChangesNothing()
    {
        var opt = new SGD([new ParamGroup([new Parameter([1f])]) { ["lr"] = 0.1 }]);
        var group = new ParamGroup([new Parameter([2f])]);
        var before = opt.StateDict().ToJson();
        var e = Assert.Throws<ArgumentException>(() => opt.AddParamGroup(group));
        Assert.Equal("lr", e.ParamName);
        Assert.Single(opt.ParamGroups);
        Assert.False(group.ContainsKey("momentum"));
        Assert.Equal(before, opt.StateDict().ToJson());
    }

    [Fact]
    public void AGivenLrIsStillCheckedAndStillTheDefault()
    {
        Assert.Equal("lr", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD([new ParamGroup([new Parameter([1f])])], lr: -1)).ParamName);
        var opt = new SGD([new ParamGroup([new Parameter([1f])])], lr: 0.3);
        Assert.Equal(0.3, opt.ParamGroups[0].Lr);
    }
}
