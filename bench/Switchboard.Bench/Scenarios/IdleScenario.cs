using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Switchboard.Bench;

/// <summary>
/// Idle connections: up to ~20,000 WebSocket connections, each joined to one of <c>--channels</c>
/// rooms and then only answering keep-alives, opened by several worker processes of this program
/// (one process may hold at most 20,000 open files) from different loopback source addresses.
/// Server RSS before any connection and after all are joined plus a quiet period → KiB per connection.
/// </summary>
internal sealed class IdleScenario(ScenarioContext context) : Scenario(context)
{
    public override string Name => "idle";

    private int Connections => Options.Connections;

    private int Workers => Math.Min(Options.IdleWorkers, Connections);

    public override int ProgressSteps => 1;

    public override string Describe() =>
        $"idle: {Connections} connections over {Options.Channels} rooms, opened by {Workers} worker process(es) " +
        $"from 127.0.0.2…; RSS before and after {Options.QuietSeconds} s of quiet";

    public override async Task RunAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        var tag = Tag(kind, repeat);
        await using var server = await StartServerAsync(kind, repeat, ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // let start-up settle before the baseline
        var rssBefore = server.RssMiB();
        Reporter.Advance($"{tag}: opening {Connections} idle connections with {Workers} worker(s)", 0);

        var workers = new List<WorkerProcess>();
        try
        {
            var offset = 0;
            for (var w = 0; w < Workers; w++)
            {
                var count = (Connections / Workers) + (w < Connections % Workers ? 1 : 0);
                workers.Add(WorkerProcess.Start(Options, kind, server.WebSocketBaseUri, Transport.SourceAddress(w), count, offset, Reporter.Log, $"{tag} worker {w}"));
                offset += count;
            }
            await Task.WhenAll(workers.Select(w => w.Ready.Task)).WaitAsync(TimeSpan.FromSeconds(60), ct);

            var selfPid = Environment.ProcessId;
            double GeneratorCpu() => ProcStats.CpuSeconds(selfPid) + workers.Sum(w => w.CpuSeconds());
            var generatorCpu0 = GeneratorCpu();
            var serverCpu0 = server.CpuSeconds();
            var sw = Stopwatch.StartNew();
            foreach (var w in workers)
            {
                await w.SendAsync("go");
            }
            var allJoined = Task.WhenAll(workers.Select(w => w.Joined.Task));
            while (!allJoined.IsCompleted)
            {
                await Task.WhenAny(allJoined, Task.Delay(TimeSpan.FromSeconds(5), ct));
                ct.ThrowIfCancellationRequested();
                if (workers.Any(w => w.HasExited && !w.Joined.Task.IsCompleted))
                {
                    throw new InvalidOperationException("a worker process exited before its connections joined");
                }
                if (!allJoined.IsCompleted)
                {
                    Reporter.Log($"{tag}: {workers.Sum(w => w.Progress)} / {Connections} joined after {sw.Elapsed.TotalSeconds:F0} s");
                }
                if (sw.Elapsed > TimeSpan.FromMinutes(10))
                {
                    throw new TimeoutException("connections not joined after 10 minutes");
                }
            }
            var reports = await allJoined;
            var connectSeconds = sw.Elapsed.TotalSeconds;
            var generatorCpu = 100 * (GeneratorCpu() - generatorCpu0) / connectSeconds;
            var serverCpuConnect = server.CpuSeconds() - serverCpu0;
            var joined = reports.Sum(r => r.GetProperty("joined").GetInt32());
            var failed = reports.Sum(r => r.GetProperty("failed").GetInt32());
            var errors = reports.Select(r => r.GetProperty("error")).Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()).ToList();
            Reporter.Log(
                $"{tag}: {joined} joined, {failed} failed in {connectSeconds:F1} s ({joined / connectSeconds:F0}/s), " +
                $"generator CPU {generatorCpu:F0}%{(Saturation.Is(generatorCpu) ? " (GENERATOR SATURATED)" : "")}" +
                (errors.Count > 0 ? $"; {errors[0]}" : ""));

            // Quiet: nothing but keep-alives (pings answered by the workers).
            await Task.Delay(TimeSpan.FromSeconds(Options.QuietSeconds), ct);
            var rssAfter = server.RssMiB();
            var statuses = new List<JsonElement>();
            foreach (var w in workers)
            {
                statuses.Add(await w.RequestStatusAsync(ct));
            }
            var alive = statuses.Sum(s => s.GetProperty("alive").GetInt32());
            var closes = statuses.Select(s => s.GetProperty("closes")).Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()).ToList();

            var result = new IdleResult
            {
                Scenario = Name,
                Server = kind.Name,
                Repeat = repeat,
                Connections = Connections,
                Workers = workers.Count,
                Channels = Options.Channels,
                Joined = joined,
                Failed = failed,
                ConnectSeconds = connectSeconds,
                ConnectsPerSecond = joined / connectSeconds,
                AliveAfterQuiet = alive,
                QuietSeconds = Options.QuietSeconds,
                RssBeforeMiB = rssBefore,
                RssAfterMiB = rssAfter,
                KiBPerConnection = joined > 0 ? (rssAfter - rssBefore) * 1024 / joined : double.NaN,
                ServerPeakRssMiB = server.PeakRssMiB(),
                ServerCpuSecondsConnect = serverCpuConnect,
                GeneratorCpuPercent = generatorCpu,
                GeneratorSaturated = Saturation.Is(generatorCpu),
            };
            Context.Results.Add(result);
            Reporter.Advance(null, 1);
            Reporter.Log(
                $"{tag}: RSS {rssBefore:F0} → {rssAfter:F0} MiB = {result.KiBPerConnection:F1} KiB per connection; " +
                $"{alive} of {joined} still open after {Options.QuietSeconds} s quiet{(closes.Count > 0 ? $" (closed: {closes[0]})" : "")}{Saturation.Mark(result)}");
            if (server.HasExited)
            {
                throw new InvalidOperationException($"{kind.Name} exited during the run");
            }
        }
        finally
        {
            foreach (var w in workers)
            {
                await w.DisposeAsync();
            }
        }
    }
}

/// <summary>One generator worker process (this program in <c>--worker idle</c> mode), stopped by its own id only.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Action<string> _log;
    private readonly string _name;
    private TaskCompletionSource<JsonElement>? _status;
    private int _progress;

    private WorkerProcess(Process process, Action<string> log, string name)
    {
        _process = process;
        _log = log;
        _name = name;
    }

    public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<JsonElement> Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Progress => Volatile.Read(ref _progress);

    public bool HasExited => _process.HasExited;

    public double CpuSeconds()
    {
        var s = ProcStats.CpuSeconds(_process.Id);
        return double.IsNaN(s) ? 0 : s;
    }

    public static WorkerProcess Start(
        Options options, ServerKind kind, Uri target, System.Net.IPAddress source, int count, int idOffset, Action<string> log, string name)
    {
        // Same host and assembly as this process; it inherits this process's CPU affinity (the generator core).
        var host = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(Options).Assembly.Location);
        }
        var inv = CultureInfo.InvariantCulture;
        foreach (var a in new[]
        {
            "--worker", "idle", "--servers", kind.Name, "--target", target.ToString(), "--source", source.ToString(),
            "--count", count.ToString(inv), "--id-offset", idOffset.ToString(inv), "--channels", options.Channels.ToString(inv),
            "--connect-concurrency", options.ConnectConcurrency.ToString(inv),
        })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["SWITCHBOARD_BENCH_PINNED"] = "1"; // never re-executed under taskset: it inherits the affinity
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start a worker process");
        var worker = new WorkerProcess(process, log, name);
        process.OutputDataReceived += (_, e) => worker.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                log($"{name} stderr: {e.Data}");
            }
        };
        process.Exited += (_, _) =>
        {
            worker.Ready.TrySetException(new InvalidOperationException($"{name} exited"));
            worker.Joined.TrySetException(new InvalidOperationException($"{name} exited"));
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
    }

    public async Task<JsonElement> RequestStatusAsync(CancellationToken ct)
    {
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _status, tcs);
        await SendAsync("status");
        return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await SendAsync("stop");
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _log($"{_name}: did not stop within 60 s, killed");
                _process.Kill(entireProcessTree: false);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        JsonElement e;
        try
        {
            e = JsonDocument.Parse(line).RootElement;
        }
        catch (JsonException)
        {
            _log($"{_name}: {line}");
            return;
        }
        switch (e.GetProperty("event").GetString())
        {
            case "ready":
                Ready.TrySetResult();
                break;
            case "progress":
                Volatile.Write(ref _progress, e.GetProperty("joined").GetInt32());
                break;
            case "joined":
                Volatile.Write(ref _progress, e.GetProperty("joined").GetInt32());
                Joined.TrySetResult(e);
                break;
            case "status":
                Volatile.Read(ref _status)?.TrySetResult(e);
                break;
            case "log":
                _log($"{_name}: {e.GetProperty("message").GetString()}");
                break;
            default:
                break;
        }
    }
}
