namespace Optim.CSharp;

/// <summary>
/// A checkpoint file that cannot be read: not a zip of PyTorch's layout, truncated, corrupt (a CRC that does not
/// match), over one of the reader's size limits, or holding a pickle opcode or global outside the allow-list. The
/// message names the entry, the key or the byte offset. It derives from <see cref="Exception"/>: .NET's
/// <see cref="InvalidDataException"/> is sealed, and an <see cref="IOException"/> would be confused with the disk's own
/// errors, which loading throws as they are. (Optim's core has an <c>Optim.CheckpointException</c>, an
/// <see cref="ArgumentException"/> for a state dict that does not fit an optimizer; this one is about files, hence its
/// own name.)
/// </summary>
public sealed class CheckpointFileException : Exception
{
    /// <summary>An error saying what is wrong with a checkpoint file, and where.</summary>
    /// <param name="message">What is wrong, and where.</param>
    public CheckpointFileException(string message) : base(message) { }

    /// <summary>An error saying what is wrong with a checkpoint file, caused by <paramref name="inner"/>.</summary>
    /// <param name="message">What is wrong, and where.</param>
    /// <param name="inner">The error that revealed it.</param>
    public CheckpointFileException(string message, Exception inner) : base(message, inner) { }
}
