namespace Optim.NN.Tests;

/// <summary>
/// Convolution and pooling written again, plainly, in float64 from their definitions (PyTorch's semantics: zero
/// padding for the convolution and average pooling, windows clipped for max pooling, the sum of a padded window
/// divided by kH·kW). It shares no code with the library. Tensors are NCHW arrays with their shapes.
/// </summary>
public static class ConvReference
{
    public static double[] Conv2d(double[] x, int n, int c, int h, int w, double[] weight, int outC, int kh, int kw, double[]? bias,
                                  int sh, int sw, int ph, int pw, out int oh, out int ow)
    {
        oh = (h + 2 * ph - kh) / sh + 1;
        ow = (w + 2 * pw - kw) / sw + 1;
        var y = new double[n * outC * oh * ow];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outC; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double s = bias?[o] ?? 0;
                        for (int ci = 0; ci < c; ci++)
                            for (int p = 0; p < kh; p++)
                                for (int q = 0; q < kw; q++)
                                {
                                    int ih = i * sh - ph + p, iw = j * sw - pw + q;
                                    if (ih >= 0 && ih < h && iw >= 0 && iw < w)
                                        s += weight[((o * c + ci) * kh + p) * kw + q] * x[((b * c + ci) * h + ih) * w + iw];
                                }
                        y[((b * outC + o) * oh + i) * ow + j] = s;
                    }
        return y;
    }

    public static double[] Pool(bool max, double[] x, int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                out int oh, out int ow)
    {
        oh = (h + 2 * ph - kh) / sh + 1;
        ow = (w + 2 * pw - kw) / sw + 1;
        var y = new double[n * c * oh * ow];
        for (int plane = 0; plane < n * c; plane++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double acc = max ? double.NegativeInfinity : 0;
                    for (int p = 0; p < kh; p++)
                        for (int q = 0; q < kw; q++)
                        {
                            int ih = i * sh - ph + p, iw = j * sw - pw + q;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            double v = x[(plane * h + ih) * w + iw];
                            acc = max ? Math.Max(acc, v) : acc + v;
                        }
                    y[(plane * oh + i) * ow + j] = max ? acc : acc / (kh * kw);
                }
        return y;
    }
}
