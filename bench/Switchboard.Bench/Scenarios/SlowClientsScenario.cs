using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Bench;

/// <summary>
/// Slow clients: healthy subscribers plus a few extra on one room, 1 KiB publications at a fixed
/// rate; a baseline step with everyone reading, then (same server process) a step where the extra
/// subscribers stop reading. Reports the healthy clients' latency change, server RSS, and what the
/// server did to the slow clients.
/// </summary>
internal sealed class SlowClientsScenario(ScenarioContext context) : Scenario(context)
{
    public override string Name => "slow-clients";

    private int Healthy => Options.SubscribersSet ?? 1000;

    private int Rate => Options.RatesSet?[0] ?? 100;

    private int Seconds => Options.DurationSet ?? 30;

    private int PayloadBytes => Options.PayloadBytesSet ?? 1024;

    public override int ProgressSteps => 2;

    public override string Describe() =>
        $"slow-clients: 1 channel × {Healthy} healthy + {Options.SlowClients} slow subscribers (SO_RCVBUF {Options.SlowReceiveBuffer}), " +
        $"{Rate} pubs/s × {PayloadBytes} B, baseline {Seconds} s then {Seconds} s with the slow ones not reading";

    public override async Task RunAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        var tag = Tag(kind, repeat);
        await using var server = await StartServerAsync(kind, repeat, ct);
        await using var session = new PublishSession(Context, kind, server, Rooms(1));
        using var smallBuffers = Transport.Create(null, Options.SlowReceiveBuffer);
        for (var i = 0; i < Healthy; i++)
        {
            session.Add();
        }
        var slow = Enumerable.Range(0, Options.SlowClients).Select(_ => session.Add(smallBuffers)).ToArray();
        foreach (var s in slow)
        {
            s.Measured = false;
        }
        await session.EnsureConnectedAsync(ct);
        Reporter.Log($"{tag}: {Healthy} + {slow.Length} subscribers joined");

        if (Options.WarmupSeconds > 0)
        {
            Reporter.Advance($"{tag}: warm-up {Rate}/s × {Options.WarmupSeconds} s (not measured)", 0);
            await session.RunStepAsync(new StepSpec(Name, "warm-up", Rate, Options.WarmupSeconds, repeat, PayloadBytes), ct);
        }

        await session.EnsureConnectedAsync(ct);
        Reporter.Advance($"{tag}: baseline {Rate} pubs/s × {Seconds} s, everyone reading", 0);
        var baseline = await session.RunStepAsync(new StepSpec(Name, "baseline", Rate, Seconds, repeat, PayloadBytes), ct);
        Context.Results.Add(baseline);
        Reporter.Advance(null, 1);
        Reporter.Log($"{tag} baseline: {PublishSession.Describe(baseline)}");

        await session.EnsureConnectedAsync(ct);
        Reporter.Advance($"{tag}: {Rate} pubs/s × {Seconds} s, {slow.Length} clients not reading", 0);
        foreach (var s in slow)
        {
            s.PauseReading();
        }
        var slowStep = await session.RunStepAsync(new StepSpec(Name, "slow", Rate, Seconds, repeat, PayloadBytes), ct);
        Context.Results.Add(slowStep);
        Reporter.Advance(null, 1);
        Reporter.Log($"{tag} slow: {PublishSession.Describe(slowStep)}");

        // Read again: whatever the server left in the sockets (a close frame, a reset, or a backlog
        // of publications) tells what it did to them. (While they do not read, their side cannot
        // see it, so when during the step it happened is not known.)
        foreach (var s in slow)
        {
            s.ResumeReading();
        }
        var deadline = Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && slow.Any(s => s.Alive))
        {
            await Task.Delay(100, ct);
        }
        var outcome = string.Join(
            ", ",
            slow.GroupBy(s => s.Alive ? "still connected" : (s.LastCloseCode is { } code
                    ? $"close {code.ToString(CultureInfo.InvariantCulture)} {Reason(s.LastCloseReason, code)}".TrimEnd()
                    : "aborted (" + (s.LastCloseReason ?? "?") + ")"))
                .OrderByDescending(g => g.Count())
                .Select(g => $"{g.Count()}× {g.Key}"));
        var disconnected = slow.Count(s => !s.Alive);
        var generatorCpu = Math.Max(baseline.GeneratorCpuPercent, slowStep.GeneratorCpuPercent);
        var result = new SlowClientsResult
        {
            Scenario = Name,
            Server = kind.Name,
            Repeat = repeat,
            Healthy = Healthy,
            Slow = slow.Length,
            Rate = Rate,
            PayloadBytes = baseline.PayloadBytes,
            BaselineP50Ms = baseline.P50Ms,
            BaselineP99Ms = baseline.P99Ms,
            SlowP50Ms = slowStep.P50Ms,
            SlowP99Ms = slowStep.P99Ms,
            P50ChangePercent = Change(baseline.P50Ms, slowStep.P50Ms),
            P99ChangePercent = Change(baseline.P99Ms, slowStep.P99Ms),
            BaselineRssPeakMiB = baseline.ServerRssSampledPeakMiB,
            SlowRssPeakMiB = slowStep.ServerRssSampledPeakMiB,
            SlowRssFinalMiB = slowStep.ServerRssFinalMiB,
            HealthyLost = slowStep.Lost,
            HealthyDuplicates = slowStep.Duplicates,
            HealthyDisconnects = slowStep.Disconnects,
            SlowDisconnected = disconnected,
            SlowOutcome = outcome,
            GeneratorCpuPercent = generatorCpu,
            GeneratorSaturated = Saturation.Is(generatorCpu),
        };
        Context.Results.Add(result);
        Reporter.Log(
            $"{tag}: healthy p50 {result.BaselineP50Ms:F2} → {result.SlowP50Ms:F2} ms ({result.P50ChangePercent:+0;-0;0}%), " +
            $"p99 {result.BaselineP99Ms:F2} → {result.SlowP99Ms:F2} ms ({result.P99ChangePercent:+0;-0;0}%), " +
            $"RSS peak {result.BaselineRssPeakMiB:F0} / {result.SlowRssPeakMiB:F0} MiB, final {result.SlowRssFinalMiB:F0} MiB; " +
            $"slow clients: {disconnected}/{slow.Length} disconnected ({outcome}); healthy lost {result.HealthyLost}, dup {result.HealthyDuplicates}" +
            Saturation.Mark(result));
        if (server.HasExited)
        {
            throw new InvalidOperationException($"{kind.Name} exited during the run");
        }
    }

    private static double Change(double before, double after) => before > 0 ? 100 * (after - before) / before : double.NaN;

    private static string Reason(string? closeReason, int code)
    {
        // LastCloseReason is "<code> <description>".
        var prefix = code.ToString(CultureInfo.InvariantCulture);
        return closeReason is not null && closeReason.StartsWith(prefix, StringComparison.Ordinal) ? closeReason[prefix.Length..].Trim() : "";
    }
}
