using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Bench;

/// <summary>
/// The same workload over each of Switchboard's client transports (WebSocket JSON, WebSocket
/// Protobuf, HTTP-streaming, SSE, long polling): --subscribers of one channel with history (long
/// polling reads the channel's stream), publications through the server API. Per transport and
/// repeat: memory per idle connection on a server of its own (--idle-connections subscribers of a
/// channel nobody publishes to, RSS before and after --quiet seconds); then, on a fresh server, a
/// warm-up and a rate ladder that stops at the first step that fails twice in a row — p99 at or
/// above <see cref="P99LimitMs"/>, or a loss, duplicate or disconnect. Latency, bytes and CPU are
/// compared at --moderate-rate.
/// </summary>
internal sealed class TransportsScenario(ScenarioContext context) : Scenario(context)
{
    public const double P99LimitMs = 50;

    private const string Room = ServerKind.Room;
    private const string IdleRoom = "idle";

    public override string Name => "transports";

    private IReadOnlyList<string> Transports => Options.Transports;

    private int SubscriberCount => Options.SubscribersSet ?? 1000;

    private IReadOnlyList<int> Rates => Options.RatesSet ?? [10, 20, 50, 100, 200, 500, 1000];

    /// <summary>The rate the latency, bytes and CPU columns compare at (default: the ladder's second rate, or its only one).</summary>
    private int ModerateRate => Options.ModerateRate ?? (Rates.Count > 1 ? Rates[1] : Rates[0]);

    private int Seconds => Options.DurationSet ?? 5;

    private int HistorySize => Options.HistorySize > 0 ? Options.HistorySize : 1000;

    public override int ProgressSteps => Transports.Count * Rates.Count;

    public override string Describe() =>
        $"transports ({string.Join(", ", Transports)}): 1 channel with history ({HistorySize}) × {SubscriberCount} subscribers, " +
        $"ladder {string.Join(", ", Rates)} pubs/s × {Seconds} s until a step fails twice (p99 ≥ {P99LimitMs} ms or a loss), compared at {ModerateRate}/s; " +
        $"{Options.IdleConnections} idle connections per transport for memory";

    public override async Task RunAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        if (kind.Name != "switchboard")
        {
            Reporter.Log($"transports: {kind.Name} skipped (the scenario compares Switchboard's own transports on its memory engine)");
            Reporter.Advance(null, ProgressSteps);
            return;
        }
        var failures = new List<string>();
        foreach (var transport in Transports)
        {
            // Long polling needs a stream to read: every transport gets the same channel with history.
            var withHistory = (SwitchboardServer)ServerKind.Create(kind.Name, HistorySize);
            // Nothing is connected when the server is stopped: no drain window to wait out (10 s by default).
            withHistory.ExtraEnvironment["Switchboard__Drain__Window"] = "00:00:00";
            if (transport == ClientTransports.LongPoll)
            {
                // Its per-address limit (polls a minute) would refuse the pollers, which all come
                // from one address; the other transports have no such limit.
                withHistory.ExtraEnvironment["Switchboard__RateLimits__LongPoll__PermitLimit"] = "0";
            }
            try
            {
                await RunTransportAsync(withHistory, transport, repeat, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                failures.Add($"{transport}: {e.Message}");
                Reporter.Log($"transports {transport} #{repeat}: FAILED {e.Message}");
            }
            await Task.Delay(TimeSpan.FromSeconds(2), ct); // let sockets and memory settle
        }
        if (failures.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", failures));
        }
    }

    private async Task RunTransportAsync(ServerKind kind, string transport, int repeat, CancellationToken ct)
    {
        var tag = $"transports {transport} #{repeat}";
        // Memory on a server of its own, so that tearing thousands of connections down does not
        // land in a measured step.
        var idle = await MeasureIdleAsync(kind, transport, repeat, ct);

        var logName = $"{Name}-{transport}-{repeat}.log";
        await using var server = ServerProcess.Start(kind, Context.RepoRoot, Options.NoPin ? null : Options.ServerCore, Path.Combine(Context.ResultsDir, logName));
        await server.WaitHealthyAsync(kind.HealthPath, TimeSpan.FromSeconds(60), ct);
        Reporter.Log($"{tag}: healthy: {server.Describe()}");

        // The measured subscribers' bytes are counted; everything they read and write goes through this handler.
        var wire = new WireCounter();
        using var handler = Transport.Handler(null, null, wire);
        using HttpMessageInvoker invoker = ClientTransports.IsWebSocket(transport)
            ? new HttpMessageInvoker(handler, disposeHandler: false)
            : new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        await using var session = new PublishSession(
            Context, kind, server, [Room], (id, run, room) => ClientTransports.Create(transport, id, run, SwitchboardServer.Channel(room), invoker), wire);
        for (var i = 0; i < SubscriberCount; i++)
        {
            session.Add();
        }
        var sw = Stopwatch.StartNew();
        await session.EnsureConnectedAsync(ct);
        Reporter.Log($"{tag}: {SubscriberCount} subscribers joined in {sw.Elapsed.TotalSeconds:F1} s");

        if (Options.WarmupSeconds > 0)
        {
            var warmupRate = Options.WarmupRate > 0 ? Options.WarmupRate : ModerateRate;
            Reporter.Advance($"{tag}: warm-up {warmupRate}/s × {Options.WarmupSeconds} s (not measured)", 0);
            await session.RunStepAsync(new StepSpec(Name, "warm-up", warmupRate, Options.WarmupSeconds, repeat, 0), ct);
        }

        async Task<StepResult> StepAsync(int rate, string phase)
        {
            await session.EnsureConnectedAsync(ct);
            Reporter.Advance($"{tag}: {rate} pubs/s × {Seconds} s{(phase.Length > 0 ? $" ({phase})" : "")}", 0);
            var step = await session.RunStepAsync(new StepSpec(Name, phase, rate, Seconds, repeat, 0), ct) with { Server = transport };
            Reporter.Log(
                $"{tag} {rate}/s{(phase.Length > 0 ? $" ({phase})" : "")}: {PublishSession.Describe(step)}; wire {step.WireBytesReceivedPerDelivery:F1} B read + " +
                $"{step.WireBytesSentPerDelivery:F1} B written per delivery, server CPU {step.ServerCpuSecondsPerMillionDeliveries:F2} s per M deliveries");
            if (server.HasExited)
            {
                throw new InvalidOperationException("the server exited during the run");
            }
            return step;
        }

        var steps = new List<StepResult>();
        var unconfirmed = new List<StepResult>();
        string stoppedBy = "";
        foreach (var rate in Rates)
        {
            var step = await StepAsync(rate, "");
            if (Failed(step) is not null)
            {
                // The machine is shared: a failure counts once the step has failed twice in a row.
                // The first attempt stays in the results as "failed, retried"; the second is the ladder's.
                unconfirmed.Add(step);
                Context.Results.Add(step with { Phase = "failed, retried" });
                step = await StepAsync(rate, "");
            }
            Context.Results.Add(step);
            steps.Add(step);
            Reporter.Advance(null, 1);
            var why = Failed(step);
            if (why is not null)
            {
                stoppedBy = $"{why} at {rate}/s{Saturation.Mark(step)}";
                Reporter.Advance(null, Rates.Count - steps.Count);
                break;
            }
        }

        var moderate = steps.FirstOrDefault(s => s.Rate == ModerateRate);
        if (moderate is null)
        {
            // The ladder stopped below the moderate rate: measure it anyway (outside the ladder), so
            // that every transport has the comparison columns.
            await session.EnsureConnectedAsync(ct);
            moderate = await StepAsync(ModerateRate, "comparison");
            Context.Results.Add(moderate);
        }
        var passed = steps.Where(s => Failed(s) is null).ToList();
        var best = passed.Count > 0 ? passed[^1] : null;
        var result = new TransportResult
        {
            Scenario = Name,
            Server = transport,
            Repeat = repeat,
            Subscribers = SubscriberCount,
            ModerateRate = moderate.Rate,
            P50Ms = moderate.P50Ms,
            P99Ms = moderate.P99Ms,
            P999Ms = moderate.P999Ms,
            DeliveriesPerSecond = moderate.DeliveriesPerSecond,
            MaxRate = best?.Rate ?? 0,
            TopRate = Rates.Max(),
            StoppedBy = stoppedBy,
            BytesPerDelivery = moderate.WireBytesReceivedPerDelivery,
            SentBytesPerDelivery = moderate.WireBytesSentPerDelivery,
            CpuSecondsPerMillion = moderate.ServerCpuSecondsPerMillionDeliveries,
            BytesPerDeliveryAtMax = best?.WireBytesReceivedPerDelivery ?? double.NaN,
            CpuSecondsPerMillionAtMax = best?.ServerCpuSecondsPerMillionDeliveries ?? double.NaN,
            IdleConnections = idle.Connections,
            IdleJoined = idle.Joined,
            IdleAliveAfterQuiet = idle.Alive,
            IdleRssBeforeMiB = idle.RssBefore,
            IdleRssAfterMiB = idle.RssAfter,
            KiBPerIdleConnection = idle.Joined > 0 ? (idle.RssAfter - idle.RssBefore) * 1024 / idle.Joined : double.NaN,
            Lost = steps.Concat(unconfirmed).Append(moderate).Distinct().Sum(s => s.Lost),
            Duplicates = steps.Concat(unconfirmed).Append(moderate).Distinct().Sum(s => s.Duplicates),
            Disconnects = steps.Concat(unconfirmed).Append(moderate).Distinct().Sum(s => s.Disconnects),
            RetriedSteps = unconfirmed.Count,
            GeneratorCpuPercent = moderate.GeneratorCpuPercent,
            GeneratorSaturated = moderate.GeneratorSaturated,
        };
        Context.Results.Add(result);
        var gaps = session.Subscribers.OfType<LongPollSubscriber>().Sum(s => s.Gaps);
        Reporter.Log(
            $"{tag}: at {result.ModerateRate}/s p50 {result.P50Ms:F2} / p99 {result.P99Ms:F2} / p99.9 {result.P999Ms:F2} ms; " +
            $"highest rate with p99 < {P99LimitMs} ms: {(result.MaxRate >= result.TopRate ? "≥ " : "")}{result.MaxRate}/s{(stoppedBy.Length > 0 ? $" (stopped by {stoppedBy})" : "")}; " +
            $"{result.BytesPerDelivery:F1} B/delivery; {result.CpuSecondsPerMillion:F2} CPU-s per M deliveries; " +
            $"{result.KiBPerIdleConnection:F1} KiB per idle connection; lost {result.Lost}, dup {result.Duplicates}" +
            (transport == ClientTransports.LongPoll ? $", recovered:false answers {gaps}" : ""));
    }

    /// <summary>Why a ladder step fails (p99 at or above the limit, a loss, a duplicate, a disconnect), or null.</summary>
    private static string? Failed(StepResult s) =>
        double.IsNaN(s.P99Ms) ? "nothing delivered"
        : s.P99Ms >= P99LimitMs ? $"p99 {s.P99Ms.ToString("F1", CultureInfo.InvariantCulture)} ms"
        : s.Lost > 0 ? $"{s.Lost} lost"
        : s.Duplicates > 0 ? $"{s.Duplicates} duplicated"
        : s.Disconnects > 0 ? $"{s.Disconnects} disconnects"
        : s.PublishErrors > 0 ? $"{s.PublishErrors} publish errors"
        : null;

    private sealed record IdleFigures(int Connections, int Joined, int Alive, double RssBefore, double RssAfter);

    /// <summary>
    /// Server RSS before and after --idle-connections more subscribers of a channel nobody
    /// publishes to have joined and --quiet seconds passed (long polling: each holds a hanging poll).
    /// </summary>
    private async Task<IdleFigures> MeasureIdleAsync(ServerKind kind, string transport, int repeat, CancellationToken ct)
    {
        var count = Options.IdleConnections;
        if (count == 0)
        {
            return new IdleFigures(0, 0, 0, double.NaN, double.NaN);
        }
        var tag = $"transports {transport} #{repeat} idle";
        var logName = $"{Name}-{transport}-{repeat}-idle.log";
        await using var server = ServerProcess.Start(kind, Context.RepoRoot, Options.NoPin ? null : Options.ServerCore, Path.Combine(Context.ResultsDir, logName));
        await server.WaitHealthyAsync(kind.HealthPath, TimeSpan.FromSeconds(60), ct);
        Reporter.Log($"{tag}: healthy: {server.Describe()}");
        // From another source address, so that the measured subscribers keep their ephemeral ports.
        using var handler = Transport.Handler(Transport.SourceAddress(0), null, null);
        using HttpMessageInvoker invoker = ClientTransports.IsWebSocket(transport)
            ? new HttpMessageInvoker(handler, disposeHandler: false)
            : new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var run = new RunState();
        var channel = SwitchboardServer.Channel(IdleRoom);
        var idle = Enumerable.Range(0, count)
            .Select(i => ClientTransports.Create(transport, 1_000_000 + i, run, channel, invoker))
            .ToList();
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // let start-up settle before the baseline (as the idle scenario does)
        var before = server.RssMiB();
        try
        {
            var sw = Stopwatch.StartNew();
            try
            {
                await PublishSession.ConnectAllAsync(idle, server.WebSocketBaseUri, Options.ConnectConcurrency, Reporter.Log, ct);
            }
            catch (InvalidOperationException e)
            {
                Reporter.Log($"{tag}: {e.Message} (memory is divided by those that joined)");
            }
            var joined = idle.Count(s => s.Alive);
            Reporter.Log($"{tag}: {joined} idle connections joined in {sw.Elapsed.TotalSeconds:F1} s; quiet {Options.QuietSeconds} s");
            await Task.Delay(TimeSpan.FromSeconds(Options.QuietSeconds), ct);
            var after = server.RssMiB();
            var alive = idle.Count(s => s.Alive);
            Reporter.Log($"{tag}: RSS {before:F1} → {after:F1} MiB = {(after - before) * 1024 / joined:F1} KiB per idle connection; {alive} of {joined} still open");
            return new IdleFigures(count, joined, alive, before, after);
        }
        finally
        {
            await Parallel.ForEachAsync(idle, new ParallelOptions { MaxDegreeOfParallelism = 200 }, async (s, _) => await s.CloseAsync());
        }
    }
}
