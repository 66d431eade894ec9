using System.Globalization;
using System.Runtime.InteropServices;

namespace Switchboard.Bench;

/// <summary>CPU time and memory of a process, read from /proc (Linux only).</summary>
internal static partial class ProcStats
{
    private const int ScClkTck = 2; // _SC_CLK_TCK on Linux

    internal static readonly double TicksPerSecond = ReadClockTicks();

    /// <summary>utime + stime of the process in seconds (all its threads), or NaN when it is gone.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // rest[0] is field 3 (state); utime is field 14, stime field 15.
            var utime = long.Parse(rest[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(rest[12], CultureInfo.InvariantCulture);
            return (utime + stime) / TicksPerSecond;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// Time on CPU of the process's live threads in seconds, from <c>/proc/PID/task/*/schedstat</c>
    /// (nanoseconds; the first field of each), or NaN when it cannot be read. Far finer than the
    /// 10 ms ticks of <see cref="CpuSeconds(int)"/>, for a process that uses only tens of
    /// milliseconds in a step (a Redis sidecar); threads that exited are not counted.
    /// </summary>
    public static double RunTimeSeconds(int pid)
    {
        try
        {
            long ns = 0;
            var any = false;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                string text;
                try
                {
                    text = File.ReadAllText(Path.Combine(task, "schedstat"));
                }
                catch (IOException)
                {
                    continue; // a thread that just exited
                }
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                ns += long.Parse(space < 0 ? text.Trim() : text[..space], CultureInfo.InvariantCulture);
                any = true;
            }
            return any ? ns / 1e9 : double.NaN;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    /// <summary>Peak resident set size (VmHWM) in MiB, or NaN when the process is gone.</summary>
    public static double PeakRssMiB(int pid) => StatusKiB(pid, "VmHWM:") / 1024.0;

    /// <summary>Current resident set size (VmRSS) in MiB, or NaN when the process is gone.</summary>
    public static double RssMiB(int pid) => StatusKiB(pid, "VmRSS:") / 1024.0;

    private static double StatusKiB(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var value = line[key.Length..].Trim();
                    var space = value.IndexOf(' ', StringComparison.Ordinal);
                    return double.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        return double.NaN;
    }

    /// <summary>The CPUs this process may run on (its affinity list), as taskset prints it.</summary>
    public static string AllowedCpus(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
                {
                    return line["Cpus_allowed_list:".Length..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        return "?";
    }

    /// <summary>
    /// Stops one process the bench started: SIGTERM to it alone, SIGKILL (that process only) if it
    /// has not exited within <paramref name="grace"/>.
    /// </summary>
    public static async Task StopAsync(System.Diagnostics.Process process, TimeSpan grace)
    {
        if (!process.HasExited)
        {
            Signal(process.Id, 15);
            using var cts = new CancellationTokenSource(grace);
            try
            {
                await process.WaitForExitAsync(cts.Token);
                return;
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: false);
            }
        }
        await process.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>Sends a signal to one process (by id).</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    private static double ReadClockTicks()
    {
        var t = SysConf(ScClkTck);
        return t > 0 ? t : 100;
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
