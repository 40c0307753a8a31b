using System.Runtime.InteropServices;

namespace Optim.CSharp;

/// <summary>
/// Writes a file so that a crash at any moment leaves either the old complete file or the new one: the bytes go to a
/// temporary file in the same directory, which is flushed to disk, renamed over the target (an atomic replace on one
/// file system), and then the directory itself is synced so that the rename survives a power loss (on Linux and
/// macOS; Windows has no directory handle to sync, and its rename is journaled).
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="write"/>'s bytes to <paramref name="path"/> atomically.</summary>
    /// <exception cref="IOException">Writing, flushing or renaming failed; the old file (if any) is untouched and the temporary file removed.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        // a name of its own per write, so that two writers never share a temporary file; the dot hides it from ls
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        SyncDirectory(dir);
    }

    /// <summary>Makes the directory entry of a rename durable; best effort where the platform allows it.</summary>
    private static void SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        int fd = Open(System.Text.Encoding.UTF8.GetBytes(dir + "\0"), 0 /* O_RDONLY */);
        if (fd < 0) return;
        try { _ = Fsync(fd); }
        finally { _ = Close(fd); }
    }

    [DllImport("libc", EntryPoint = "open")]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync")]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
