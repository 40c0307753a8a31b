using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>A backward pass through values an optimizer step has since changed in place fails, as PyTorch's does.</summary>
public class InplaceVersionTests
{
    private static (Linear Layer, Tensor Loss) Forward()
    {
        var layer = new Linear(3, 2, random: new Random(0));
        var x = new Tensor([1f, 2f, 3f, -1f, 0.5f, 2f], 2, 3);
        return (layer, layer.Forward(x).Pow(2).Sum());
    }

    [Fact]
    public void Backward_after_the_parameters_were_stepped_fails_naming_the_parameter_and_changes_no_gradient()
    {
        var (layer, loss) = Forward();
        var warm = layer.Forward(new Tensor([1f, 1f, 1f], 1, 3)).Sum();
        warm.Backward();
        new SGD(layer.Parameters(), lr: 0.1).Step();
        var gradBefore = layer.Weight.Grad!.ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("modified by an inplace operation", e.Message);
        Assert.Contains("'weight'", e.Message);
        Assert.Contains("expected version 0", e.Message);
        Assert.Equal(gradBefore, layer.Weight.Grad);
    }

    [Fact]
    public void A_forward_pass_after_the_step_differentiates_as_usual()
    {
        var (layer, loss) = Forward();
        loss.Backward();
        var opt = new SGD(layer.Parameters(), lr: 0.1);
        opt.Step();
        opt.ZeroGrad();
        var again = layer.Forward(new Tensor([1f, 2f, 3f], 1, 3)).Sum();
        again.Backward();
        Assert.NotNull(layer.Weight.Grad);
        Assert.Equal(1, layer.Weight.Version);
    }

    [Fact]
    public void A_parameter_without_a_gradient_is_not_stepped_and_keeps_its_version()
    {
        var layer = new Linear(3, 2, random: new Random(0));
        new Adam(layer.Parameters()).Step();
        Assert.Equal(0, layer.Weight.Version);
    }

    [Fact]
    public void Writing_the_data_yourself_and_marking_it_modified_is_caught_too()
    {
        var (layer, loss) = Forward();
        layer.Weight.Data[0] = 5f;
        layer.Weight.MarkModified();
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
    }

    [Fact]
    public void Loading_a_state_dict_into_the_model_bumps_the_versions()
    {
        var (layer, loss) = Forward();
        layer.LoadStateDict(layer.StateDict());
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
    }
}
