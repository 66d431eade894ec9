namespace Switchboard.Bench;

/// <summary>
/// Fan-out: subscribers spread round-robin over <see cref="Channels"/> rooms, one publishing step
/// per rate with publications round-robin over the rooms, after an unmeasured warm-up.
/// </summary>
internal abstract class FanOutScenario(ScenarioContext context) : Scenario(context)
{
    protected abstract int Channels { get; }

    protected abstract int SubscriberCount { get; }

    protected abstract IReadOnlyList<int> Rates { get; }

    protected abstract int Seconds { get; }

    protected int PayloadBytes => Options.PayloadBytesSet ?? 0;

    public override int ProgressSteps => Rates.Count;

    public override async Task RunAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        var tag = Tag(kind, repeat);
        await using var server = await StartServerAsync(kind, repeat, ct);
        await using var session = new PublishSession(Context, kind, server, Rooms(Channels));
        for (var i = 0; i < SubscriberCount; i++)
        {
            session.Add();
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await session.EnsureConnectedAsync(ct);
        Reporter.Log($"{tag}: {SubscriberCount} subscribers joined {Channels} room(s) in {sw.Elapsed.TotalSeconds:F1} s");
        if (server.HasRedis)
        {
            await session.MeasureRedisIdleAsync(TimeSpan.FromSeconds(2), ct);
            Reporter.Log($"{tag}: Redis idle CPU {session.RedisIdleCpuPercent:F2}% of a core (2 s, nothing published)");
        }

        if (Options.WarmupSeconds > 0)
        {
            var warmupRate = Options.WarmupRate > 0 ? Options.WarmupRate : Rates[0];
            Reporter.Advance($"{tag}: warm-up {warmupRate}/s × {Options.WarmupSeconds} s (not measured)", 0);
            await session.RunStepAsync(new StepSpec(Name, "warm-up", warmupRate, Options.WarmupSeconds, repeat, PayloadBytes), ct);
        }
        foreach (var rate in Rates)
        {
            await session.EnsureConnectedAsync(ct);
            Reporter.Advance($"{tag}: {rate} pubs/s × {Seconds} s", 0);
            var result = await session.RunStepAsync(new StepSpec(Name, "", rate, Seconds, repeat, PayloadBytes), ct);
            Context.Results.Add(result);
            Reporter.Advance(null, 1);
            Reporter.Log($"{tag} {rate}/s: {PublishSession.Describe(result)}");
            if (server.HasExited)
            {
                throw new InvalidOperationException($"{kind.Name} exited during the run");
            }
        }
    }
}

/// <summary>Broadcast fan-out: one room, every subscriber gets every publication.</summary>
internal sealed class BroadcastScenario(ScenarioContext context) : FanOutScenario(context)
{
    public override string Name => "broadcast";

    protected override int Channels => 1;

    protected override int SubscriberCount => Options.Subscribers;

    protected override IReadOnlyList<int> Rates => Options.Rates;

    protected override int Seconds => Options.DurationSeconds;

    public override string Describe() =>
        $"broadcast: 1 channel × {SubscriberCount} subscribers, rates {string.Join(", ", Rates)} pubs/s, {Seconds} s each";
}
