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
    public required int Subscribers { get; init; }
    public required IReadOnlyList<int> Rates { get; init; }
    public required int DurationSeconds { get; init; }
    public required int Repeat { get; init; }

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
        Subscribers = o.Subscribers,
        Rates = o.Rates,
        DurationSeconds = o.DurationSeconds,
        Repeat = o.Repeat,
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

/// <summary>Writes results.json, results.md and the charts, and prints the table.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Per server and rate, the median of every measurement over the repeats.</summary>
    public static List<StepResult> Medians(IReadOnlyList<StepResult> all) =>
        all.GroupBy(r => (r.Server, r.Rate))
            .Select(g =>
            {
                var rs = g.ToList();
                double M(Func<StepResult, double> f) => Median(rs.Select(f));
                long L(Func<StepResult, long> f) => (long)Math.Round(Median(rs.Select(r => (double)f(r))));
                return new StepResult
                {
                    Server = g.Key.Server,
                    Repeat = rs.Count,
                    Rate = g.Key.Rate,
                    DurationSeconds = rs[0].DurationSeconds,
                    Subscribers = rs[0].Subscribers,
                    ConnectedAtStart = (int)L(r => r.ConnectedAtStart),
                    Attempted = L(r => r.Attempted),
                    Published = L(r => r.Published),
                    PublishErrors = L(r => r.PublishErrors),
                    Expected = L(r => r.Expected),
                    Delivered = L(r => r.Delivered),
                    DeliveriesPerSecond = M(r => r.DeliveriesPerSecond),
                    Lost = L(r => r.Lost),
                    Duplicates = L(r => r.Duplicates),
                    Disconnects = (int)L(r => r.Disconnects),
                    P50Ms = M(r => r.P50Ms),
                    P99Ms = M(r => r.P99Ms),
                    P999Ms = M(r => r.P999Ms),
                    MaxMs = M(r => r.MaxMs),
                    MeanMs = M(r => r.MeanMs),
                    ServerCpuSeconds = M(r => r.ServerCpuSeconds),
                    ServerCpuPercent = M(r => r.ServerCpuPercent),
                    ServerPeakRssMiB = M(r => r.ServerPeakRssMiB),
                    GeneratorCpuPercent = M(r => r.GeneratorCpuPercent),
                    MaxPublishLagMs = M(r => r.MaxPublishLagMs),
                    DrainSeconds = M(r => r.DrainSeconds),
                    SettleSeconds = M(r => r.SettleSeconds),
                };
            })
            .ToList();

    public static void Write(string dir, RunInfo info, IReadOnlyList<StepResult> all, IReadOnlyList<StepResult> medians, IReadOnlyList<string> failures)
    {
        var json = JsonSerializer.Serialize(new { info, medians, runs = all, failures }, JsonOptions);
        File.WriteAllText(Path.Combine(dir, "results.json"), json);
        File.WriteAllText(Path.Combine(dir, "results.md"), Markdown(info, all, medians, failures));
        Charts.Write(dir, medians);
    }

    public static string Markdown(RunInfo info, IReadOnlyList<StepResult> all, IReadOnlyList<StepResult> medians, IReadOnlyList<string> failures)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# Broadcast fan-out results").AppendLine();
        sb.AppendLine(inv, $"- started (UTC): {info.StartedUtc}");
        sb.AppendLine(inv, $"- command line: `{info.CommandLine}`");
        sb.AppendLine(inv, $"- machine: {info.ProcessorCount} CPUs, {info.CpuModel}; {info.Kernel}");
        sb.AppendLine(inv, $"- .NET: {info.DotnetRuntime}; Node: {info.NodeVersion}");
        sb.AppendLine(inv, $"- pinning: {info.Pinning}");
        sb.AppendLine(inv, $"- scenario: 1 channel × {info.Subscribers} subscribers, {info.DurationSeconds} s per rate, repeats: {info.Repeat}");
        sb.AppendLine();
        sb.AppendLine(info.Repeat > 1 ? "## Medians over the repeats" : "## Results").AppendLine();
        AppendTable(sb, medians);
        if (info.Repeat > 1)
        {
            sb.AppendLine().AppendLine("## Every repeat").AppendLine();
            AppendTable(sb, all);
        }
        if (failures.Count > 0)
        {
            sb.AppendLine().AppendLine("## Failures").AppendLine();
            foreach (var f in failures)
            {
                sb.AppendLine(inv, $"- {f}");
            }
        }
        sb.AppendLine().AppendLine("Chart: `p99-latency.png` (p99 latency vs publication rate), `p50-latency.png`.");
        return sb.ToString();
    }

    private static void AppendTable(StringBuilder sb, IReadOnlyList<StepResult> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("| server | rep | pubs/s | acked pubs | p50 ms | p99 ms | p99.9 ms | max ms | deliveries/s | expected | lost | dup | disc | server CPU s | server CPU % | peak RSS MiB | gen CPU % |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            sb.AppendLine(inv,
                $"| {r.Server} | {r.Repeat} | {r.Rate} | {r.Published}/{r.Attempted} | {r.P50Ms:F2} | {r.P99Ms:F2} | {r.P999Ms:F2} | {r.MaxMs:F1} | {r.DeliveriesPerSecond:F0} | {r.Expected} | {r.Lost} | {r.Duplicates} | {r.Disconnects} | {r.ServerCpuSeconds:F1} | {r.ServerCpuPercent:F0} | {r.ServerPeakRssMiB:F0} | {r.GeneratorCpuPercent:F0} |");
        }
    }

    public static void Print(IReadOnlyList<StepResult> rows, string title)
    {
        var table = new Table().Title(title).Border(TableBorder.Rounded);
        foreach (var c in new[] { "server", "pubs/s", "p50 ms", "p99 ms", "p99.9 ms", "deliveries/s", "lost", "dup", "srv CPU s", "peak RSS MiB", "gen CPU %" })
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }
        var inv = CultureInfo.InvariantCulture;
        foreach (var r in rows)
        {
            table.AddRow(
                r.Server, r.Rate.ToString(inv), r.P50Ms.ToString("F2", inv), r.P99Ms.ToString("F2", inv), r.P999Ms.ToString("F2", inv),
                r.DeliveriesPerSecond.ToString("F0", inv), r.Lost.ToString(inv), r.Duplicates.ToString(inv),
                r.ServerCpuSeconds.ToString("F1", inv), r.ServerPeakRssMiB.ToString("F0", inv), r.GeneratorCpuPercent.ToString("F0", inv));
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

/// <summary>PNG charts of latency against publication rate, one line per server.</summary>
internal static class Charts
{
    public static void Write(string dir, IReadOnlyList<StepResult> medians)
    {
        Plot(Path.Combine(dir, "p99-latency.png"), medians, r => r.P99Ms, "p99 delivery latency (ms)");
        Plot(Path.Combine(dir, "p50-latency.png"), medians, r => r.P50Ms, "p50 delivery latency (ms)");
    }

    private static void Plot(string path, IReadOnlyList<StepResult> rows, Func<StepResult, double> y, string yLabel)
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
        plot.Title($"Broadcast fan-out, 1 channel × {rows.FirstOrDefault()?.Subscribers ?? 0} subscribers");
        plot.XLabel("publications per second");
        plot.YLabel(yLabel);
        plot.Axes.AutoScale();
        var limits = plot.Axes.GetLimits();
        plot.Axes.SetLimits(0, limits.Right * 1.05, 0, limits.Top * 1.1);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, 900, 560);
    }
}
