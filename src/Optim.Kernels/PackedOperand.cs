namespace Optim.Kernels;

/// <summary>
/// An operand of <see cref="Gemm"/> that is never written out as a matrix: it packs its own panels, in the layouts
/// <see cref="Gemm"/>'s micro-kernel reads, from wherever its elements lie (Optim.NN's convolutions pack their column
/// matrices straight from zero-bordered images).
/// </summary>
internal abstract unsafe class PackedOperand
{
    /// <summary>
    /// As A: packs rows <c>[ic, ic+mc)</c> × depth <c>[pc, pc+kc)</c> into panels of <see cref="Gemm.MR"/> rows, each
    /// stored depth-major and zero-padded. <paramref name="dst"/> has 8 floats of slack past the last panel, so a
    /// packing routine may store whole 8-wide vectors whose last lanes the next store overwrites.
    /// </summary>
    public abstract void PackA(float* dst, int ic, int mc, int pc, int kc);

    /// <summary>As B: packs depth <c>[pc, pc+kc)</c> × columns <c>[jc, jc+nc)</c> into panels of <paramref name="nr"/> columns, each stored depth-major and zero-padded.</summary>
    public abstract void PackB(float* dst, int pc, int kc, int jc, int nc, int nr);
}
