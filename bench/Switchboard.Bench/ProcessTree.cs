using System.Globalization;

namespace Switchboard.Bench;

/// <summary>
/// A process and its descendants, read from /proc (Linux only): for servers made of several
/// processes (nginx master + workers), whose CPU time and memory are reported as one.
/// </summary>
internal static class ProcessTree
{
    /// <summary>The process itself followed by all its live descendants (empty when it is gone).</summary>
    public static List<int> Of(int root)
    {
        var pids = new List<int>();
        if (!Directory.Exists($"/proc/{root}"))
        {
            return pids;
        }
        pids.Add(root);
        for (var i = 0; i < pids.Count; i++)
        {
            foreach (var child in Children(pids[i]))
            {
                if (!pids.Contains(child))
                {
                    pids.Add(child);
                }
            }
        }
        return pids;
    }

    /// <summary>
    /// CPU seconds of the processes: utime + stime of each, plus cutime + cstime (the time of its
    /// children that have exited and been waited for, so a worker that ended mid-step still counts).
    /// NaN when none of them can be read.
    /// </summary>
    public static double CpuSeconds(IEnumerable<int> pids)
    {
        var total = 0.0;
        var any = false;
        foreach (var pid in pids)
        {
            var t = CpuSecondsWithReapedChildren(pid);
            if (!double.IsNaN(t))
            {
                total += t;
                any = true;
            }
        }
        return any ? total : double.NaN;
    }

    /// <summary>Sums a per-process figure (NaN for a process that is gone) over the processes; NaN when none can be read.</summary>
    public static double Sum(IEnumerable<int> pids, Func<int, double> figure)
    {
        var total = 0.0;
        var any = false;
        foreach (var pid in pids)
        {
            var v = figure(pid);
            if (!double.IsNaN(v))
            {
                total += v;
                any = true;
            }
        }
        return any ? total : double.NaN;
    }

    /// <summary>The start time of a process (clock ticks after boot): with the pid, it names one process for good.</summary>
    public static long StartTime(int pid)
    {
        var fields = StatFields(pid);
        // Field 22 (starttime) is fields[19]: fields[0] is field 3.
        return fields is null ? -1 : long.Parse(fields[19], CultureInfo.InvariantCulture);
    }

    private static double CpuSecondsWithReapedChildren(int pid)
    {
        var fields = StatFields(pid);
        if (fields is null)
        {
            return double.NaN;
        }
        // utime, stime, cutime, cstime are fields 14–17.
        long ticks = 0;
        for (var f = 11; f <= 14; f++)
        {
            ticks += long.Parse(fields[f], CultureInfo.InvariantCulture);
        }
        return ticks / ProcStats.TicksPerSecond;
    }

    /// <summary>The fields of /proc/PID/stat after the command name (fields[0] is field 3, the state), or null.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<int> Children(int pid)
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var path = Path.Combine(task, "children");
                if (!File.Exists(path))
                {
                    return ChildrenByScan(pid); // kernel without CONFIG_PROC_CHILDREN
                }
                foreach (var token in File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    children.Add(int.Parse(token, CultureInfo.InvariantCulture));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return children;
    }

    private static List<int> ChildrenByScan(int parent)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            // Field 4 (ppid) is fields[1].
            if (StatFields(pid) is { } fields && fields[1] == parent.ToString(CultureInfo.InvariantCulture))
            {
                children.Add(pid);
            }
        }
        return children;
    }
}
