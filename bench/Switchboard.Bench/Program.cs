using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Switchboard.Bench;

// Switchboard.Bench: load scenarios (broadcast fan-out, many channels, slow clients, idle connections,
// connection churn) against Switchboard, ASP.NET Core SignalR, Socket.IO 4 and other peers in one run.
// The server under test runs on one core (taskset -c 0), this generator on the other (it re-executes
// itself under taskset -c 1 unless --no-pin; its worker processes inherit that affinity).

Options options;
try
{
    options = Options.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    await Console.Error.WriteLineAsync(Options.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(Options.Usage);
    return 0;
}
if (options.Replot is not null)
{
    var redrawn = Report.Replot(options.Replot);
    Console.WriteLine($"redrawn: {string.Join(", ", redrawn)}");
    return 0;
}
if (options.Worker is not null)
{
    // A generator worker started by the idle scenario: JSON lines on stdout, commands on stdin.
    return await IdleWorker.RunAsync(options);
}

const string PinnedMarker = "SWITCHBOARD_BENCH_PINNED";
if (!options.NoPin && Environment.GetEnvironmentVariable(PinnedMarker) != "1")
{
    // Re-execute under taskset so that every thread of the generator (runtime threads included)
    // is confined to the generator's core from the start.
    var psi = new ProcessStartInfo("taskset") { UseShellExecute = false };
    psi.ArgumentList.Add("-c");
    psi.ArgumentList.Add(options.GeneratorCore.ToString(CultureInfo.InvariantCulture));
    var host = Environment.ProcessPath ?? "dotnet";
    psi.ArgumentList.Add(host);
    if (Path.GetFileNameWithoutExtension(host) == "dotnet")
    {
        psi.ArgumentList.Add(typeof(Options).Assembly.Location);
    }
    foreach (var a in args)
    {
        psi.ArgumentList.Add(a);
    }
    psi.Environment[PinnedMarker] = "1";
    // The generator's sockets complete on the epoll thread instead of hopping to the thread pool:
    // about a third less CPU per received message, so the generator is less often what limits a figure.
    psi.Environment[GeneratorTuning.InlineSocketCompletions] = "1";
    try
    {
        using var child = Process.Start(psi)!;
        await child.WaitForExitAsync();
        return child.ExitCode;
    }
    catch (System.ComponentModel.Win32Exception e)
    {
        await Console.Error.WriteLineAsync($"cannot run taskset ({e.Message}); install util-linux or pass --no-pin");
        return 2;
    }
}

var repoRoot = options.RepoRoot ?? FindRepoRoot();
if (repoRoot is null)
{
    await Console.Error.WriteLineAsync("cannot find the repository root (Switchboard.slnx); pass --repo");
    return 2;
}
var kinds = options.Servers.Select(name => ServerKind.Create(name, options.HistorySize)).ToList();
foreach (var k in kinds)
{
    if (!File.Exists(k.RequiredFile(repoRoot)))
    {
        await Console.Error.WriteLineAsync($"{k.Name}: {k.RequiredFile(repoRoot)} is missing — build it first (see docs/benchmarks.md)");
        return 2;
    }
}

var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
var resultsDir = options.OutputDirectory ?? Path.Combine(repoRoot, "bench", "results", stamp);
Directory.CreateDirectory(resultsDir);

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

if (!AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Width < 160)
{
    AnsiConsole.Profile.Width = 160; // a log file, not a terminal: keep table rows on one line
}
var info = RunInfo.Collect(options, args);
var all = new ResultSet();
IReporter? currentReporter = null;
var context = new ScenarioContext(options, repoRoot, resultsDir, new ForwardingReporter(() => currentReporter), all);
var scenarios = options.Scenarios.Select(name => Scenario.Create(name, context)).ToList();
foreach (var scenario in scenarios)
{
    AnsiConsole.MarkupLine(Markup.Escape($"Switchboard.Bench — {scenario.Describe()}; {options.Repeat} repeat(s)"));
}
AnsiConsole.MarkupLine(Markup.Escape($"machine: {info.ProcessorCount} CPUs, {info.CpuModel}; {info.DotnetRuntime}; node {info.NodeVersion}"));
AnsiConsole.MarkupLine(Markup.Escape($"pinning: {info.Pinning}"));
AnsiConsole.MarkupLine(Markup.Escape($"results: {resultsDir}"));

var failures = new List<string>();
var totalSteps = options.Repeat * kinds.Count * scenarios.Sum(s => s.ProgressSteps);

async Task RunAllAsync(IReporter reporter)
{
    currentReporter = reporter;
    foreach (var scenario in scenarios)
    {
        for (var repeat = 1; repeat <= options.Repeat; repeat++)
        {
            foreach (var kind in kinds)
            {
                cts.Token.ThrowIfCancellationRequested();
                try
                {
                    await scenario.RunAsync(kind, repeat, cts.Token);
                }
                catch (Exception e) when (!cts.IsCancellationRequested)
                {
                    var message = $"{(scenario.Name == "broadcast" ? "" : scenario.Name + " ")}{kind.Name} #{repeat}: {e.Message}";
                    failures.Add(message);
                    reporter.Log("FAILED " + message);
                }
                // Let the previous server's sockets and memory settle before the next one starts.
                await Task.Delay(TimeSpan.FromSeconds(2), cts.Token);
            }
        }
    }
}

try
{
    if (AnsiConsole.Profile.Capabilities.Interactive)
    {
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: totalSteps);
                await RunAllAsync(new ProgressReporter(task, resultsDir));
            });
    }
    else
    {
        await RunAllAsync(new LineReporter(resultsDir));
    }
}
catch (OperationCanceledException)
{
    failures.Add("interrupted");
}

var medians = Report.Medians(all);
var charts = Report.Write(resultsDir, info, all, medians, failures);
Report.Print(medians, options.Scenarios, options.Repeat > 1 ? $"medians over {options.Repeat} repeats" : "results");
AnsiConsole.MarkupLine(Markup.Escape($"written: {Path.Combine(resultsDir, "results.md")}, results.json{string.Concat(charts.Select(c => ", " + c))}"));
return failures.Count == 0 ? 0 : 1;

static string? FindRepoRoot()
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Switchboard.slnx")))
            {
                return dir.FullName;
            }
        }
    }
    return null;
}
