namespace Optim.NN;

/// <summary>The functional forms of the layers and losses (PyTorch's <c>torch.nn.functional</c>).</summary>
public static class Functional
{
    /// <summary>
    /// The affine map <c>input·weightᵀ + bias</c> (<c>F.linear</c>), as one operation.
    /// </summary>
    /// <param name="input">Shape <c>[*, in]</c>: <c>[batch, in]</c>, <c>[in]</c>, or more leading dimensions (up to rank 4), as PyTorch's.</param>
    /// <param name="weight">Shape <c>[out, in]</c>.</param>
    /// <param name="bias">Shape <c>[out]</c>, or null for none.</param>
    /// <returns>Shape <c>[*, out]</c>: the input's, with the last extent <c>out</c>.</returns>
    /// <exception cref="ArgumentException">The shapes do not fit; the message gives them.</exception>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => Ops.MatMul.Linear(input, weight, bias);

    /// <summary>
    /// The cross-entropy loss of logits against class indices, averaged over the batch (<c>F.cross_entropy</c> with
    /// mean reduction): <c>mean_i(−log softmax(input_i)[target_i])</c>, log-softmax and loss fused and stable for
    /// any finite logits. No class weights, <c>ignore_index</c> or label smoothing.
    /// </summary>
    /// <param name="input">Logits, shape <c>[batch, classes]</c>.</param>
    /// <param name="target">Class indices, shape <c>[batch]</c>: whole numbers in <c>[0, classes)</c>, held as float32
    /// (the tensors of this library are float32 only; every index below 2²⁴ is exact).</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentException">The shapes do not fit, or a target is not a class index; the message gives it.</exception>
    public static Tensor CrossEntropy(Tensor input, Tensor target) => Ops.Softmax.CrossEntropy(input, target);

    /// <summary>The mean squared error <c>mean((input − target)²)</c> (<c>F.mse_loss</c>); both get gradients if they require them.</summary>
    /// <param name="input">The prediction.</param>
    /// <param name="target">The target, of the same shape.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor MseLoss(Tensor input, Tensor target) => Ops.Mse.Loss(input, target);

    /// <summary>
    /// The 2-D convolution (cross-correlation, as in PyTorch) of images with filters, plus a bias per output channel
    /// (<c>F.conv2d</c> with one group and no dilation): <c>y[n, o, i, j] = b[o] + Σ_c Σ_p Σ_q w[o, c, p, q]·x[n, c, i·s + p − pad, j·s + q − pad]</c>,
    /// the input padded with zeros. The output is <c>floor((H + 2·padding − kH) / stride) + 1</c> high (and the same
    /// for the width). It runs as im2col and the packed matrix product, over two threads.
    /// </summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="weight">Filters, shape <c>[outChannels, C, kH, kW]</c>.</param>
    /// <param name="bias">Shape <c>[outChannels]</c>, or null for none.</param>
    /// <param name="stride">The step of the window, in both directions.</param>
    /// <param name="padding">Zeros added on each side, in both directions.</param>
    /// <returns>Shape <c>[N, outChannels, oH, oW]</c> (or <c>[outChannels, oH, oW]</c>).</returns>
    /// <exception cref="ArgumentException">The input is not 3-D or 4-D, its channels are not the weight's, the weight
    /// or bias has the wrong shape, the stride is not positive, the padding is negative, or the kernel is larger than
    /// the padded input; the message names the argument and gives the shapes or values.</exception>
    /// <example><code>var y = Functional.Conv2d(x, w, b, stride: 1, padding: 2);   // x [64, 3, 32, 32], w [32, 3, 5, 5] → y [64, 32, 32, 32]</code></example>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0) =>
        Ops.Conv.Conv2d(input, weight, bias, (stride, stride), (padding, padding));

    /// <summary>The 2-D convolution with a (height, width) stride and padding (<c>F.conv2d(x, w, b, stride=(sH, sW), padding=(pH, pW))</c>).</summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="weight">Filters, shape <c>[outChannels, C, kH, kW]</c>.</param>
    /// <param name="bias">Shape <c>[outChannels]</c>, or null for none.</param>
    /// <param name="stride">The step of the window: (down, across).</param>
    /// <param name="padding">Zeros added on each side: (above and below, left and right).</param>
    /// <returns>Shape <c>[N, outChannels, oH, oW]</c> (or <c>[outChannels, oH, oW]</c>).</returns>
    /// <exception cref="ArgumentException">As <see cref="Conv2d(Tensor, Tensor, Tensor?, int, int)"/>.</exception>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int, int) stride, (int, int) padding = default) =>
        Ops.Conv.Conv2d(input, weight, bias, stride, padding);

    /// <summary>
    /// The maximum over each window of each channel (<c>F.max_pool2d</c>, no dilation or ceil mode); the padding
    /// takes no part. The gradient goes to the window's maximum, the first one in row-major order when there are ties
    /// (a NaN wins, as in PyTorch).
    /// </summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="kernelSize">The window's height and width.</param>
    /// <param name="stride">The step of the window; null: <paramref name="kernelSize"/>.</param>
    /// <param name="padding">The padding on each side, at most half the window.</param>
    /// <returns>Shape <c>[N, C, oH, oW]</c> (or <c>[C, oH, oW]</c>), <c>oH = floor((H + 2·padding − kernelSize) / stride) + 1</c>.</returns>
    /// <exception cref="ArgumentException">The input is not 3-D or 4-D, the window or stride is not positive, the padding
    /// is negative or more than half the window, or the window is larger than the padded input.</exception>
    /// <example><code>var y = Functional.MaxPool2d(x, 2);   // [64, 32, 32, 32] → [64, 32, 16, 16]</code></example>
    public static Tensor MaxPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0) =>
        Ops.Pool.Apply(Kernels.PoolKind.Max, input, (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding));

    /// <summary>Max pooling with a (height, width) window, stride and padding.</summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="kernelSize">The window: (height, width).</param>
    /// <param name="stride">The step of the window: (down, across); null: <paramref name="kernelSize"/>.</param>
    /// <param name="padding">The padding: (above and below, left and right), each at most half the window.</param>
    /// <returns>Shape <c>[N, C, oH, oW]</c> (or <c>[C, oH, oW]</c>).</returns>
    /// <exception cref="ArgumentException">As <see cref="MaxPool2d(Tensor, int, int?, int)"/>.</exception>
    public static Tensor MaxPool2d(Tensor input, (int, int) kernelSize, (int, int)? stride = null, (int, int) padding = default) =>
        Ops.Pool.Apply(Kernels.PoolKind.Max, input, kernelSize, stride, padding);

    /// <summary>
    /// The mean over each window of each channel (<c>F.avg_pool2d</c> with its defaults: the padding counts as zeros,
    /// so every window's sum is divided by <c>kernelSize²</c>; no ceil mode).
    /// </summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="kernelSize">The window's height and width.</param>
    /// <param name="stride">The step of the window; null: <paramref name="kernelSize"/>.</param>
    /// <param name="padding">Zeros added on each side, at most half the window.</param>
    /// <returns>Shape <c>[N, C, oH, oW]</c> (or <c>[C, oH, oW]</c>), <c>oH = floor((H + 2·padding − kernelSize) / stride) + 1</c>.</returns>
    /// <exception cref="ArgumentException">As <see cref="MaxPool2d(Tensor, int, int?, int)"/>.</exception>
    public static Tensor AvgPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0) =>
        Ops.Pool.Apply(Kernels.PoolKind.Avg, input, (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding));

    /// <summary>Average pooling with a (height, width) window, stride and padding.</summary>
    /// <param name="input">Images, shape <c>[N, C, H, W]</c>, or one image <c>[C, H, W]</c>.</param>
    /// <param name="kernelSize">The window: (height, width).</param>
    /// <param name="stride">The step of the window: (down, across); null: <paramref name="kernelSize"/>.</param>
    /// <param name="padding">Zeros added: (above and below, left and right), each at most half the window.</param>
    /// <returns>Shape <c>[N, C, oH, oW]</c> (or <c>[C, oH, oW]</c>).</returns>
    /// <exception cref="ArgumentException">As <see cref="MaxPool2d(Tensor, int, int?, int)"/>.</exception>
    public static Tensor AvgPool2d(Tensor input, (int, int) kernelSize, (int, int)? stride = null, (int, int) padding = default) =>
        Ops.Pool.Apply(Kernels.PoolKind.Avg, input, kernelSize, stride, padding);
}
