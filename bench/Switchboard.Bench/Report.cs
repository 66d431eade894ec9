using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Switchboard.Bench;

/// <summary>Facts about the machine and the run, written next to the results.</summary>
internal sealed record RunInfo
{
    public required string StartedUtc { get; init; }
    public required string CommandLine { get; init; }
    public required int ProcessorCount { get; init; }
    public required string CpuModel { get; init; }
    public required string Kernel { get; init; }
    public required string DotnetRuntime { get; init; }
    public required string NodeVersion { get; init; }
    public required string Pinning { get; init; }
    public required IReadOnlyList<string> Scenarios { get; init; }
    public required int Subscribers { get; init; }
    public required IReadOnlyList<int> Rates { get; init; }
    public required int DurationSeconds { get; init; }
    public required int Repeat { get; init; }
    /// <summary>History size of Switchboard's bench channels (--history; 0: no history).</summary>
    public required int SwitchboardHistorySize { get; init; }
    /// <summary>The generator CPU % from which a row is flagged as generator-saturated.</summary>
    public required double GeneratorSaturationPercent { get; init; }

    public static RunInfo Collect(Options o, string[] args) => new()
    {
        StartedUtc = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
        CommandLine = string.Join(' ', args),
        ProcessorCount = ReadNproc(),
        CpuModel = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
            ?.Split(':', 2)[1].Trim() ?? "?",
        Kernel = RuntimeInformation.OSDescription,
        DotnetRuntime = RuntimeInformation.FrameworkDescription,
        NodeVersion = Capture("node", "--version"),
        Pinning = o.NoPin
            ? "none (--no-pin)"
            : $"server under test: taskset -c {o.ServerCore}; load generator: CPUs {ProcStats.AllowedCpus(Environment.ProcessId)}",
        Scenarios = o.Scenarios,
        Subscribers = o.Subscribers,
        Rates = o.Rates,
        DurationSeconds = o.DurationSeconds,
        Repeat = o.Repeat,
        SwitchboardHistorySize = o.HistorySize,
        GeneratorSaturationPercent = Saturation.Threshold,
    };

    private static int ReadNproc()
    {
        var s = Capture("nproc", "--all");
        return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : Environment.ProcessorCount;
    }

    private static string Capture(string file, string arg)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, arg) { RedirectStandardOutput = true, UseShellExecute = false });
            if (p is null)
            {
                return "?";
            }
            var text = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not found";
        }
    }
}

/// <summary>Writes results.json, results.md and the charts, and prints the tables.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Rows of every kind (the medians over the repeats, or every repeat).</summary>
    internal sealed record MedianSet(
        List<StepResult> Steps, List<SlowClientsResult> SlowClients, List<IdleResult> Idle, List<ChurnResult> Churn,
        List<TransportResult> Transports);

    public static MedianSet Medians(ResultSet all) => new(
        Medians(all.Steps, r => (r.Scenario, r.Phase, r.Server, r.Rate)),
        Medians(all.SlowClients, r => (r.Scenario, r.Server)),
        Medians(all.Idle, r => (r.Scenario, r.Server)),
        Medians(all.Churn, r => (r.Scenario, r.Server)),
        Medians(all.Transports, r => (r.Scenario, r.Server)));

    /// <summary>
    /// Per key (scenario, server, step), a row whose every number is the median over the repeats
    /// (<see cref="IResultRow.Repeat"/> becomes the number of repeats); strings are joined when they
    /// differ, and a row is generator-saturated when any repeat was.
    /// </summary>
    public static List<T> Medians<T, TKey>(IEnumerable<T> rows, Func<T, TKey> key)
        where T : class, IResultRow
    {
        var properties = typeof(T).GetProperties().Where(p => p.CanWrite).ToArray();
        var result = new List<T>();
        foreach (var g in rows.GroupBy(key))
        {
            var rs = g.ToList();
            var m = (T)Activator.CreateInstance(typeof(T))!;
            foreach (var p in properties)
            {
                var values = rs.Select(p.GetValue).ToList();
                object? value = p.Name == nameof(IResultRow.Repeat)
                    ? rs.Count
                    : p.PropertyType == typeof(double) ? Median(values.Select(v => (double)v!))
                    : p.PropertyType == typeof(long) ? (long)Math.Round(Median(values.Select(v => (double)(long)v!)))
                    : p.PropertyType == typeof(int) ? (int)Math.Round(Median(values.Select(v => (double)(int)v!)))
                    : p.PropertyType == typeof(bool) ? values.Any(v => (bool)v!)
                    : p.PropertyType == typeof(string) ? string.Join(" / ", values.Cast<string>().Distinct())
                    : values[0];
                p.SetValue(m, value);
            }
            result.Add(m);
        }
        return result;
    }

    /// <summary>Redraws the charts of a results folder from the rows in its results.json.</summary>
    public static IReadOnlyList<string> Replot(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
        var root = doc.RootElement;
        List<T> Rows<T>(JsonElement e) => e.Deserialize<List<T>>(JsonOptions) ?? [];
        var all = new ResultSet();
        all.Steps.AddRange(Rows<StepResult>(root.GetProperty("runs")));
        all.SlowClients.AddRange(Rows<SlowClientsResult>(root.GetProperty("slowClients").GetProperty("runs")));
        all.Idle.AddRange(Rows<IdleResult>(root.GetProperty("idle").GetProperty("runs")));
        all.Churn.AddRange(Rows<ChurnResult>(root.GetProperty("churn").GetProperty("runs")));
        if (root.TryGetProperty("transports", out var transports))
        {
            all.Transports.AddRange(Rows<TransportResult>(transports.GetProperty("runs")));
        }
        return Charts.Write(dir, Medians(all));
    }

    /// <summary>Writes results.json, results.md and the charts; returns the charts' file names.</summary>
    public static IReadOnlyList<string> Write(string dir, RunInfo info, ResultSet all, MedianSet medians, IReadOnlyList<string> failures)
    {
        // "medians"/"runs" hold the publishing steps (broadcast, many-channels, slow-clients), as before.
        var json = JsonSerializer.Serialize(
            new
            {
                info,
                medians = medians.Steps,
                runs = all.Steps,
                slowClients = new { medians = medians.SlowClients, runs = all.SlowClients },
                idle = new { medians = medians.Idle, runs = all.Idle },
                churn = new { medians = medians.Churn, runs = all.Churn },
                transports = new { medians = medians.Transports, runs = all.Transports },
                failures,
            },
            JsonOptions);
        File.WriteAllText(Path.Combine(dir, "results.json"), json);
        var charts = Charts.Write(dir, medians);
        File.WriteAllText(Path.Combine(dir, "results.md"), Markdown(info, all, medians, failures, charts));
        return charts;
    }

    public static string Markdown(RunInfo info, ResultSet all, MedianSet medians, IReadOnlyList<string> failures, IReadOnlyList<string> charts)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var title = info.Scenarios.Count == 1 && info.Scenarios[0] == "broadcast" ? "Broadcast fan-out" : string.Join(", ", info.Scenarios);
        sb.AppendLine(inv, $"# {title} results").AppendLine();
        sb.AppendLine(inv, $"- started (UTC): {info.StartedUtc}");
        sb.AppendLine(inv, $"- command line: `{info.CommandLine}`");
        sb.AppendLine(inv, $"- machine: {info.ProcessorCount} CPUs, {info.CpuModel}; {info.Kernel}");
        sb.AppendLine(inv, $"- .NET: {info.DotnetRuntime}; Node: {info.NodeVersion}");
        sb.AppendLine(inv, $"- pinning: {info.Pinning}");
        if (info.SwitchboardHistorySize > 0)
        {
            sb.AppendLine(inv, $"- Switchboard's bench channels keep history: {info.SwitchboardHistorySize} publications, 5 min TTL (`--history`)");
        }
        sb.AppendLine(inv, $"- repeats: {info.Repeat}; a row is marked **sat** when the load generator was ≥ {Saturation.Threshold:F0} % busy (its figures may describe the generator, not the server)");
        foreach (var scenario in info.Scenarios)
        {
            sb.AppendLine().AppendLine(inv, $"## {scenario}").AppendLine();
            if (info.Repeat > 1)
            {
                sb.AppendLine(inv, $"Medians over {info.Repeat} repeats.").AppendLine();
            }
            AppendScenario(sb, scenario, medians);
            if (info.Repeat > 1)
            {
                sb.AppendLine().AppendLine("### Every repeat").AppendLine();
                AppendScenario(sb, scenario, new MedianSet(all.Steps, all.SlowClients, all.Idle, all.Churn, all.Transports));
            }
        }
        if (failures.Count > 0)
        {
            sb.AppendLine().AppendLine("## Failures").AppendLine();
            foreach (var f in failures)
            {
                sb.AppendLine(inv, $"- {f}");
            }
        }
        if (charts.Count > 0)
        {
            sb.AppendLine().AppendLine(inv, $"Charts: {string.Join(", ", charts.Select(c => $"`{c}`"))}.");
        }
        return sb.ToString();
    }

    private static void AppendScenario(StringBuilder sb, string scenario, MedianSet rows)
    {
        switch (scenario)
        {
            case "slow-clients":
                AppendTable(sb, SlowColumns, rows.SlowClients);
                sb.AppendLine().AppendLine("Steps (healthy clients only):").AppendLine();
                var slowSteps = rows.Steps.Where(r => r.Scenario == scenario).ToList();
                AppendTable(sb, StepColumns(scenario, slowSteps), slowSteps);
                break;
            case "idle":
                AppendTable(sb, IdleColumns, rows.Idle);
                break;
            case "churn":
                AppendTable(sb, ChurnColumns, rows.Churn);
                break;
            case "transports":
                AppendTable(sb, TransportColumns, rows.Transports);
                sb.AppendLine().AppendLine("Steps: each transport's ladder ends at the first step that fails twice in a row (a first failure is kept as \"failed, retried\"); a \"comparison\" step measures the moderate rate when the ladder stopped below it.").AppendLine();
                var transportSteps = rows.Steps.Where(r => r.Scenario == scenario).ToList();
                AppendTable(sb, StepColumns(scenario, transportSteps), transportSteps);
                break;
            default:
                var steps = rows.Steps.Where(r => r.Scenario == scenario).ToList();
                AppendTable(sb, StepColumns(scenario, steps), steps);
                break;
        }
    }

    /// <summary>A table column: header, cell text, and whether the console table shows it.</summary>
    private sealed record Column<T>(string Header, Func<T, string> Cell, bool OnConsole = true);

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string F(double v, string format) => v.ToString(format, Inv);

    private static string Gen(IResultRow r) => F(r.GeneratorCpuPercent, "F0") + (r.GeneratorSaturated ? " sat" : "");

    /// <summary>A figure that some rows do not have (NaN): "—".</summary>
    private static string FOpt(double v, string format) => double.IsNaN(v) ? "—" : F(v, format);

    /// <summary>
    /// The step table's columns; the CPU breakdown (node A, node B, Redis) only when a row has a
    /// Redis sidecar or several nodes, so tables of single-node runs without Redis stay as they were.
    /// </summary>
    private static List<Column<StepResult>> StepColumns(string scenario, IReadOnlyList<StepResult> rows)
    {
        var breakdown = rows.Any(r => r.Nodes > 1 || !double.IsNaN(r.RedisCpuSeconds));
        var columns = new List<Column<StepResult>>
        {
            new("scenario", r => r.Scenario, false),
            new(scenario == "transports" ? "transport" : "server", r => r.Server),
            new("rep", r => r.Repeat.ToString(Inv), false),
        };
        if (scenario == "slow-clients")
        {
            columns.Add(new("step", r => r.Phase));
        }
        if (scenario == "transports")
        {
            columns.Add(new("step", r => r.Phase.Length > 0 ? r.Phase : "ladder", false));
        }
        if (scenario is not "broadcast" and not "transports")
        {
            columns.Add(new("rooms", r => r.Channels.ToString(Inv), false));
            columns.Add(new("subs", r => r.Subscribers.ToString(Inv), false));
        }
        columns.AddRange(
        [
            new("pubs/s", r => r.Rate.ToString(Inv)),
            new("acked pubs", r => $"{r.Published}/{r.Attempted}", false),
            new("p50 ms", r => F(r.P50Ms, "F2")),
            new("p99 ms", r => F(r.P99Ms, "F2")),
            new("p99.9 ms", r => F(r.P999Ms, "F2")),
            new("max ms", r => F(r.MaxMs, "F1"), false),
            new("deliveries/s", r => F(r.DeliveriesPerSecond, "F0")),
            new("expected", r => r.Expected.ToString(Inv), false),
            new("% delivered", r => F(r.DeliveredPercent, "F1"), scenario != "broadcast"),
            new("lost", r => r.Lost.ToString(Inv)),
            new("dup", r => r.Duplicates.ToString(Inv)),
            new("disc", r => r.Disconnects.ToString(Inv), false),
            new("server CPU s", r => F(r.ServerCpuSeconds, "F1")),
            new("server CPU %", r => F(r.ServerCpuPercent, "F0"), false),
        ]);
        if (scenario == "transports")
        {
            columns.AddRange(
            [
                new("CPU s / M deliveries", r => FOpt(r.ServerCpuSecondsPerMillionDeliveries, "F2")),
                new("wire B read / delivery", r => FOpt(r.WireBytesReceivedPerDelivery, "F1")),
                new("wire B written / delivery", r => FOpt(r.WireBytesSentPerDelivery, "F1")),
            ]);
        }
        if (breakdown)
        {
            columns.AddRange(
            [
                new("node A CPU s", r => FOpt(r.NodeACpuSeconds, "F1"), false),
                new("node B CPU s", r => FOpt(r.NodeBCpuSeconds, "F1"), false),
                new("Redis CPU s", r => FOpt(r.RedisCpuSeconds, "F2")),
                new("Redis CPU s / 1k pubs", r => FOpt(r.RedisCpuSecondsPer1000Pubs, "F3")),
                new("Redis idle CPU %", r => FOpt(r.RedisIdleCpuPercent, "F2"), false),
            ]);
        }
        columns.Add(new("peak RSS MiB", r => F(r.ServerPeakRssMiB, "F0")));
        if (breakdown)
        {
            columns.Add(new("Redis peak RSS MiB", r => FOpt(r.RedisPeakRssMiB, "F0"), false));
        }
        if (scenario == "slow-clients")
        {
            columns.Add(new("RSS peak/final MiB (500 ms samples)", r => $"{F(r.ServerRssSampledPeakMiB, "F0")}/{F(r.ServerRssFinalMiB, "F0")}"));
        }
        columns.Add(new("gen CPU %", Gen));
        return columns;
    }

    private static readonly List<Column<SlowClientsResult>> SlowColumns =
    [
        new("server", r => r.Server),
        new("rep", r => r.Repeat.ToString(Inv), false),
        new("healthy + slow", r => $"{r.Healthy} + {r.Slow}", false),
        new("pubs/s × bytes", r => $"{r.Rate} × {r.PayloadBytes}", false),
        new("p50 ms base → slow", r => $"{F(r.BaselineP50Ms, "F2")} → {F(r.SlowP50Ms, "F2")}"),
        new("p50 Δ %", r => F(r.P50ChangePercent, "+0;-0;0")),
        new("p99 ms base → slow", r => $"{F(r.BaselineP99Ms, "F2")} → {F(r.SlowP99Ms, "F2")}"),
        new("p99 Δ %", r => F(r.P99ChangePercent, "+0;-0;0")),
        new("RSS peak base / slow MiB", r => $"{F(r.BaselineRssPeakMiB, "F0")} / {F(r.SlowRssPeakMiB, "F0")}"),
        new("RSS final MiB", r => F(r.SlowRssFinalMiB, "F0")),
        new("healthy lost/dup/disc", r => $"{r.HealthyLost}/{r.HealthyDuplicates}/{r.HealthyDisconnects}"),
        new("slow disconnected", r => $"{r.SlowDisconnected}/{r.Slow}"),
        new("slow clients' end", r => r.SlowOutcome),
        new("gen CPU %", Gen),
    ];

    private static readonly List<Column<IdleResult>> IdleColumns =
    [
        new("server", r => r.Server),
        new("rep", r => r.Repeat.ToString(Inv), false),
        new("connections", r => $"{r.Joined}/{r.Connections}"),
        new("workers", r => r.Workers.ToString(Inv), false),
        new("failed", r => r.Failed.ToString(Inv), false),
        new("connect s", r => F(r.ConnectSeconds, "F1"), false),
        new("connects/s", r => F(r.ConnectsPerSecond, "F0")),
        new("alive after quiet", r => r.AliveAfterQuiet.ToString(Inv)),
        new("RSS before MiB", r => F(r.RssBeforeMiB, "F0")),
        new("RSS after MiB", r => F(r.RssAfterMiB, "F0")),
        new("KiB/conn", r => F(r.KiBPerConnection, "F1")),
        new("peak RSS MiB", r => F(r.ServerPeakRssMiB, "F0"), false),
        new("server CPU s (connect)", r => F(r.ServerCpuSecondsConnect, "F1"), false),
        new("gen CPU %", Gen),
    ];

    private static readonly List<Column<ChurnResult>> ChurnColumns =
    [
        new("server", r => r.Server),
        new("rep", r => r.Repeat.ToString(Inv), false),
        new("loops", r => r.Concurrency.ToString(Inv)),
        new("sources", r => r.Sources.ToString(Inv), false),
        new("s", r => F(r.DurationSeconds, "F0"), false),
        new("connects", r => r.Completed.ToString(Inv), false),
        new("connects/s", r => F(r.ConnectsPerSecond, "F0")),
        new("p50 ms", r => F(r.P50Ms, "F2")),
        new("p99 ms", r => F(r.P99Ms, "F2")),
        new("max ms", r => F(r.MaxMs, "F1"), false),
        new("errors", r => r.Errors.ToString(Inv)),
        new("server CPU %", r => F(r.ServerCpuPercent, "F0")),
        new("server CPU s / 1k connects", r => F(r.ServerCpuSecondsPer1000, "F2")),
        new("peak RSS MiB", r => F(r.ServerPeakRssMiB, "F0"), false),
        new("gen CPU %", Gen),
    ];

    private static readonly List<Column<TransportResult>> TransportColumns =
    [
        new("transport", r => r.Server),
        new("rep", r => r.Repeat.ToString(Inv), false),
        new("subs", r => r.Subscribers.ToString(Inv), false),
        new("moderate pubs/s", r => r.ModerateRate.ToString(Inv), false),
        new("p50 ms", r => F(r.P50Ms, "F2")),
        new("p99 ms", r => F(r.P99Ms, "F2")),
        new("p99.9 ms", r => F(r.P999Ms, "F2")),
        new($"max pubs/s with p99 < {TransportsScenario.P99LimitMs:F0} ms", r => (r.MaxRate >= r.TopRate ? "≥ " : "") + r.MaxRate.ToString(Inv)),
        new("ladder stopped by", r => r.StoppedBy.Length > 0 ? r.StoppedBy : "—", false),
        new("B read / delivery", r => FOpt(r.BytesPerDelivery, "F1")),
        new("B written / delivery", r => FOpt(r.SentBytesPerDelivery, "F1"), false),
        new("CPU s / M deliveries", r => FOpt(r.CpuSecondsPerMillion, "F2")),
        new("B read / delivery at max", r => FOpt(r.BytesPerDeliveryAtMax, "F1"), false),
        new("CPU s / M at max", r => FOpt(r.CpuSecondsPerMillionAtMax, "F2"), false),
        new("idle joined/alive", r => $"{r.IdleJoined}/{r.IdleAliveAfterQuiet}", false),
        new("KiB / idle conn", r => FOpt(r.KiBPerIdleConnection, "F1")),
        new("lost/dup/disc", r => $"{r.Lost}/{r.Duplicates}/{r.Disconnects}"),
        new("steps retried", r => r.RetriedSteps.ToString(Inv), false),
        new("gen CPU %", Gen),
    ];

    private static void AppendTable<T>(StringBuilder sb, IReadOnlyList<Column<T>> columns, IReadOnlyList<T> rows)
    {
        if (rows.Count == 0)
        {
            sb.AppendLine("(no results)");
            return;
        }
        sb.AppendLine("| " + string.Join(" | ", columns.Select(c => c.Header)) + " |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", columns.Count - 1)));
        foreach (var r in rows)
        {
            sb.AppendLine("| " + string.Join(" | ", columns.Select(c => c.Cell(r))) + " |");
        }
    }

    public static void Print(MedianSet rows, IReadOnlyList<string> scenarios, string title)
    {
        foreach (var scenario in scenarios)
        {
            var t = $"{scenario}: {title}";
            switch (scenario)
            {
                case "slow-clients":
                    PrintTable(t, SlowColumns, rows.SlowClients);
                    break;
                case "idle":
                    PrintTable(t, IdleColumns, rows.Idle);
                    break;
                case "churn":
                    PrintTable(t, ChurnColumns, rows.Churn);
                    break;
                case "transports":
                    PrintTable(t, TransportColumns, rows.Transports);
                    break;
                default:
                    var steps = rows.Steps.Where(r => r.Scenario == scenario).ToList();
                    PrintTable(t, StepColumns(scenario, steps), steps);
                    break;
            }
        }
    }

    private static void PrintTable<T>(string title, IReadOnlyList<Column<T>> columns, IReadOnlyList<T> rows)
    {
        var table = new Table().Title(Markup.Escape(title)).Border(TableBorder.Rounded);
        var shown = columns.Where(c => c.OnConsole).ToArray();
        foreach (var c in shown)
        {
            table.AddColumn(new TableColumn(Markup.Escape(c.Header)).RightAligned());
        }
        foreach (var r in rows)
        {
            table.AddRow(shown.Select(c => Markup.Escape(c.Cell(r))).ToArray());
        }
        AnsiConsole.Write(table);
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).Order().ToArray();
        if (v.Length == 0)
        {
            return double.NaN;
        }
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }
}

/// <summary>PNG charts per scenario: latency against publication rate for the fan-out scenarios, bars for the others.</summary>
internal static class Charts
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes the charts the results allow and returns their file names.</summary>
    public static List<string> Write(string dir, Report.MedianSet medians)
    {
        var written = new List<string>();
        foreach (var g in medians.Steps.Where(r => r.Phase.Length == 0 && r.Scenario != "transports").GroupBy(r => r.Scenario))
        {
            // The broadcast scenario keeps its historic chart names.
            var prefix = g.Key == "broadcast" ? "" : g.Key + "-";
            var rows = g.ToList();
            var title = g.Key == "broadcast"
                ? $"Broadcast fan-out, 1 channel × {rows[0].Subscribers} subscribers"
                : $"{g.Key}: {rows[0].Subscribers} subscribers over {rows[0].Channels} rooms";
            written.Add(Lines(dir, prefix + "p99-latency.png", title, rows, r => r.P99Ms, "p99 delivery latency (ms)"));
            written.Add(Lines(dir, prefix + "p50-latency.png", title, rows, r => r.P50Ms, "p50 delivery latency (ms)"));
        }
        var transportSteps = medians.Steps.Where(r => r.Phase.Length == 0 && r.Scenario == "transports").ToList();
        if (transportSteps.Count > 0)
        {
            var title = $"Transports, 1 channel × {transportSteps[0].Subscribers} subscribers: median of the repeats that reached each rate";
            written.Add(LogLines(dir, "transports-p99-latency.png", title, transportSteps, r => r.P99Ms, "p99 delivery latency (ms, log scale)", TransportsScenario.P99LimitMs));
            written.Add(LogLines(dir, "transports-p50-latency.png", title, transportSteps, r => r.P50Ms, "p50 delivery latency (ms, log scale)"));
        }
        if (medians.Transports.Count > 0)
        {
            var rows = medians.Transports;
            var names = rows.Select(r => r.Server).ToArray();
            var rate = rows[0].ModerateRate;
            written.Add(Bars(
                dir, "transports-bytes.png", $"Bytes the client reads from its socket per delivered message ({rate} pubs/s)", "bytes per delivery",
                names, ("bytes/delivery", rows.Select(r => r.BytesPerDelivery).ToArray())));
            written.Add(Bars(
                dir, "transports-cpu.png", $"Server CPU per million deliveries ({rate} pubs/s)", "CPU seconds per 1,000,000 deliveries",
                names, ("CPU s / M", rows.Select(r => r.CpuSecondsPerMillion).ToArray())));
            written.Add(Bars(
                dir, "transports-idle-memory.png", $"Server memory per idle connection ({rows[0].IdleConnections} connections)", "KiB per idle connection",
                names, ("KiB/connection", rows.Select(r => r.KiBPerIdleConnection).ToArray())));
            written.Add(Bars(
                dir, "transports-max-rate.png", $"Highest publication rate with p99 < {TransportsScenario.P99LimitMs:F0} ms ({rows[0].Subscribers} subscribers)", "publications per second",
                names, ("pubs/s", rows.Select(r => (double)r.MaxRate).ToArray())));
        }
        if (medians.SlowClients.Count > 0)
        {
            var rows = medians.SlowClients;
            written.Add(Bars(
                dir, "slow-clients-p99.png", "slow-clients: healthy clients' p99, baseline vs with slow clients", "p99 delivery latency (ms)",
                rows.Select(r => r.Server).ToArray(),
                ("baseline", rows.Select(r => r.BaselineP99Ms).ToArray()),
                ("slow clients", rows.Select(r => r.SlowP99Ms).ToArray())));
        }
        if (medians.Idle.Count > 0)
        {
            var rows = medians.Idle;
            written.Add(Bars(
                dir, "idle-memory.png", $"idle: server memory per idle connection ({rows[0].Connections} connections)", "KiB per connection",
                rows.Select(r => r.Server).ToArray(), ("KiB/connection", rows.Select(r => r.KiBPerConnection).ToArray())));
        }
        if (medians.Churn.Count > 0)
        {
            var rows = medians.Churn;
            written.Add(Bars(
                dir, "churn-rate.png", $"churn: connect → join → close, {rows[0].Concurrency} loops", "completed connects per second",
                rows.Select(r => r.Server).ToArray(), ("connects/s", rows.Select(r => r.ConnectsPerSecond).ToArray())));
        }
        return written;
    }

    /// <summary>
    /// Latency against rate with both axes logarithmic (a ladder spans 20 to 2,000 pubs/s and
    /// latencies from under a millisecond to seconds), ticks labelled with the plain values, and a
    /// dashed line at <paramref name="limit"/> when given.
    /// </summary>
    private static string LogLines(
        string dir, string file, string title, IReadOnlyList<StepResult> rows, Func<StepResult, double> y, string yLabel, double limit = double.NaN)
    {
        var plot = new ScottPlot.Plot();
        if (!double.IsNaN(limit))
        {
            var line = plot.Add.HorizontalLine(Math.Log10(limit));
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.LegendText = $"{limit:F0} ms";
        }
        foreach (var g in rows.GroupBy(r => r.Server))
        {
            var points = g.OrderBy(r => r.Rate).Where(r => y(r) > 0).ToArray();
            if (points.Length == 0)
            {
                continue;
            }
            var scatter = plot.Add.Scatter(points.Select(r => Math.Log10(r.Rate)).ToArray(), points.Select(r => Math.Log10(y(r))).ToArray());
            scatter.LegendText = g.Key;
            scatter.MarkerSize = 8;
            scatter.LineWidth = 2;
        }
        var rates = rows.Select(r => r.Rate).Distinct().Order().ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            rates.Select(r => Math.Log10(r)).ToArray(), rates.Select(r => r.ToString(Inv)).ToArray());
        var values = rows.Select(y).Where(v => v > 0).DefaultIfEmpty(1).ToArray();
        var top = Math.Max(values.Max(), double.IsNaN(limit) ? 0 : limit) * 1.5;
        var bottom = values.Min() / 1.5;
        double[] ticks = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
        var shown = ticks.Where(t => t >= bottom && t <= top).ToArray();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            shown.Select(Math.Log10).ToArray(), shown.Select(t => t.ToString(Inv)).ToArray());
        plot.Title(title);
        plot.XLabel("publications per second (log scale)");
        plot.YLabel(yLabel);
        plot.Axes.SetLimits(
            Math.Log10(rates[0]) - 0.1, Math.Log10(rates[^1]) + 0.1, Math.Log10(bottom), Math.Log10(top));
        // Outside the data: a ladder that ends at its first step is a single point in a corner.
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(Path.Combine(dir, file), 1000, 560);
        return file;
    }

    private static string Lines(string dir, string file, string title, IReadOnlyList<StepResult> rows, Func<StepResult, double> y, string yLabel)
    {
        var plot = new ScottPlot.Plot();
        foreach (var g in rows.GroupBy(r => r.Server))
        {
            var points = g.OrderBy(r => r.Rate).Where(r => !double.IsNaN(y(r))).ToArray();
            if (points.Length == 0)
            {
                continue;
            }
            var scatter = plot.Add.Scatter(points.Select(r => (double)r.Rate).ToArray(), points.Select(y).ToArray());
            scatter.LegendText = g.Key;
            scatter.MarkerSize = 8;
            scatter.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel("publications per second");
        plot.YLabel(yLabel);
        plot.Axes.AutoScale();
        var limits = plot.Axes.GetLimits();
        plot.Axes.SetLimits(0, limits.Right * 1.05, 0, limits.Top * 1.1);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(Path.Combine(dir, file), 900, 560);
        return file;
    }

    private static string Bars(string dir, string file, string title, string yLabel, string[] servers, params (string Label, double[] Values)[] series)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var width = 0.8 / series.Length;
        for (var s = 0; s < series.Length; s++)
        {
            var bars = new List<ScottPlot.Bar>();
            for (var i = 0; i < servers.Length; i++)
            {
                var v = series[s].Values[i];
                bars.Add(new ScottPlot.Bar
                {
                    Position = i + ((s - ((series.Length - 1) / 2.0)) * width),
                    Value = double.IsNaN(v) ? 0 : v,
                    Label = double.IsNaN(v) ? "n/a" : v.ToString(v >= 100 ? "F0" : "0.##", Inv),
                    Size = width * 0.9,
                    FillColor = palette.GetColor(s),
                });
            }
            plot.Add.Bars(bars);
            if (series.Length > 1)
            {
                plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[s].Label, FillColor = palette.GetColor(s) });
            }
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, servers.Length).Select(i => (double)i).ToArray(), servers);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.Axes.Margins(bottom: 0);
        if (series.Length > 1)
        {
            plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        }
        plot.SavePng(Path.Combine(dir, file), 900, 560);
        return file;
    }
}
