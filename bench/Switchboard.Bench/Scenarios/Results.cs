namespace Switchboard.Bench;

/// <summary>What every result row has: the scenario, the server, the repeat and how busy the generator was.</summary>
internal interface IResultRow
{
    string Scenario { get; }

    string Server { get; }

    int Repeat { get; }

    double GeneratorCpuPercent { get; }

    /// <summary>The generator was at least <see cref="Saturation.Threshold"/> % busy: the figures may describe the generator.</summary>
    bool GeneratorSaturated { get; }
}

/// <summary>When the load generator counts as saturated.</summary>
internal static class Saturation
{
    public const double Threshold = 90;

    public static bool Is(double generatorCpuPercent) => generatorCpuPercent >= Threshold;

    public static string Mark(IResultRow r) => r.GeneratorSaturated ? " (GENERATOR SATURATED)" : "";
}

/// <summary>The measurements of one publishing step: one server, one publication rate, one repeat.</summary>
internal sealed record StepResult : IResultRow
{
    public required string Scenario { get; init; }
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    /// <summary>Which step of a scenario with several kinds of step (slow-clients: baseline, slow); empty otherwise.</summary>
    public required string Phase { get; init; }
    public required int Rate { get; init; }
    public required double DurationSeconds { get; init; }
    public required int Channels { get; init; }
    public required int PayloadBytes { get; init; }
    /// <summary>Measured subscribers (slow-clients: the healthy ones).</summary>
    public required int Subscribers { get; init; }
    public required int ConnectedAtStart { get; init; }
    public required long Attempted { get; init; }
    /// <summary>Publish requests the server answered with success (the others are not expected anywhere).</summary>
    public required long Published { get; init; }
    public required long PublishErrors { get; init; }
    public required long Expected { get; init; }
    public required long Delivered { get; init; }
    public required double DeliveriesPerSecond { get; init; }
    /// <summary>Delivered ÷ the deliveries the acknowledged publications offered, in %.</summary>
    public required double DeliveredPercent { get; init; }
    public required long Lost { get; init; }
    public required long Duplicates { get; init; }
    public required int Disconnects { get; init; }
    public required double P50Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double P999Ms { get; init; }
    public required double MaxMs { get; init; }
    public required double MeanMs { get; init; }
    /// <summary>CPU seconds of the whole server side in the step: every node (with its descendants) and the Redis sidecar.</summary>
    public required double ServerCpuSeconds { get; init; }
    public required double ServerCpuPercent { get; init; }
    /// <summary>Server processes (nodes): 1, or 2 for switchboard-cluster.</summary>
    public required int Nodes { get; init; }
    /// <summary>
    /// CPU seconds of node A, the node the publish requests go to (with its descendants); with one
    /// node that is the whole server without the Redis sidecar.
    /// </summary>
    public required double NodeACpuSeconds { get; init; }
    /// <summary>CPU seconds of node B, the node the subscribers are on (switchboard-cluster); NaN with one node.</summary>
    public required double NodeBCpuSeconds { get; init; }
    /// <summary>CPU seconds of the Redis sidecar (included in <see cref="ServerCpuSeconds"/>); NaN without one.</summary>
    public required double RedisCpuSeconds { get; init; }
    /// <summary>
    /// Redis CPU seconds per 1,000 acknowledged publications; NaN without Redis. Includes Redis's
    /// fixed CPU over the step (see <see cref="RedisIdleCpuPercent"/>), which weighs at low rates.
    /// </summary>
    public required double RedisCpuSecondsPer1000Pubs { get; init; }
    /// <summary>
    /// Redis CPU, % of a core, over 2 s with the subscribers joined and nothing published, measured
    /// once per server run before the warm-up (fan-out scenarios); NaN without Redis or not measured.
    /// </summary>
    public required double RedisIdleCpuPercent { get; init; }
    /// <summary>Sum of every server process's own peak RSS (VmHWM), the Redis sidecar included.</summary>
    public required double ServerPeakRssMiB { get; init; }
    /// <summary>The Redis sidecar's peak RSS (VmHWM; included in <see cref="ServerPeakRssMiB"/>); NaN without one.</summary>
    public required double RedisPeakRssMiB { get; init; }
    /// <summary>Largest server RSS seen by sampling every 500 ms during the step.</summary>
    public required double ServerRssSampledPeakMiB { get; init; }
    /// <summary>Server RSS at the end of the step.</summary>
    public required double ServerRssFinalMiB { get; init; }
    public required double GeneratorCpuPercent { get; init; }
    public required bool GeneratorSaturated { get; init; }
    public required double MaxPublishLagMs { get; init; }
    public required double DrainSeconds { get; init; }
    /// <summary>The step's measured wall time: publishing, waiting for publish answers, drain (what CPU % and deliveries/s divide by).</summary>
    public required double WallSeconds { get; init; }
    public required double SettleSeconds { get; init; }
    /// <summary>Server CPU seconds per 1,000,000 deliveries in the step (publishing + drain).</summary>
    public double ServerCpuSecondsPerMillionDeliveries { get; init; } = double.NaN;
    /// <summary>
    /// Bytes the measured subscribers read from their sockets during the step (publishing + drain):
    /// HTTP headers, chunk framing, WebSocket frames, pings and emulation answers included; NaN when
    /// the scenario does not count them (only the transports scenario does).
    /// </summary>
    public double WireBytesReceived { get; init; } = double.NaN;
    /// <summary>Bytes the measured subscribers wrote to their sockets during the step (pongs, polls, emulation requests).</summary>
    public double WireBytesSent { get; init; } = double.NaN;
    /// <summary><see cref="WireBytesReceived"/> ÷ deliveries.</summary>
    public double WireBytesReceivedPerDelivery { get; init; } = double.NaN;
    /// <summary><see cref="WireBytesSent"/> ÷ deliveries.</summary>
    public double WireBytesSentPerDelivery { get; init; } = double.NaN;
}

/// <summary>
/// The transports scenario's summary for one transport and repeat: latency at the moderate rate,
/// the highest ladder rate with p99 under the limit, bytes on the wire and server CPU per delivery,
/// memory per idle connection.
/// </summary>
internal sealed record TransportResult : IResultRow
{
    public required string Scenario { get; init; }
    /// <summary>The transport (websocket, protobuf, http_stream, sse, long_poll).</summary>
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    public required int Subscribers { get; init; }
    public required int ModerateRate { get; init; }
    public required double P50Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double P999Ms { get; init; }
    public required double DeliveriesPerSecond { get; init; }
    /// <summary>Highest ladder rate (pubs/s) before the first step with p99 at or above the limit, a loss or a disconnect; 0: not even the first.</summary>
    public required int MaxRate { get; init; }
    /// <summary>The ladder's top rate: a <see cref="MaxRate"/> equal to it means every step passed (the true ceiling is at or above it).</summary>
    public required int TopRate { get; init; }
    /// <summary>Why the ladder stopped ("p99 73.1 ms at 2000/s"), or empty.</summary>
    public required string StoppedBy { get; init; }
    public required double BytesPerDelivery { get; init; }
    public required double SentBytesPerDelivery { get; init; }
    public required double CpuSecondsPerMillion { get; init; }
    /// <summary>The same at <see cref="MaxRate"/> (NaN when 0).</summary>
    public required double BytesPerDeliveryAtMax { get; init; }
    public required double CpuSecondsPerMillionAtMax { get; init; }
    public required int IdleConnections { get; init; }
    public required int IdleJoined { get; init; }
    public required int IdleAliveAfterQuiet { get; init; }
    public required double IdleRssBeforeMiB { get; init; }
    public required double IdleRssAfterMiB { get; init; }
    public required double KiBPerIdleConnection { get; init; }
    /// <summary>Lost and duplicated deliveries over every measured step of the ladder.</summary>
    public required long Lost { get; init; }
    public required long Duplicates { get; init; }
    public required int Disconnects { get; init; }
    /// <summary>Ladder steps that failed once and were run again (the ladder stops only at a step that fails twice in a row).</summary>
    public required int RetriedSteps { get; init; }
    public required double GeneratorCpuPercent { get; init; }
    public required bool GeneratorSaturated { get; init; }
}

/// <summary>The slow-clients scenario's summary for one server and repeat: baseline against the slow step.</summary>
internal sealed record SlowClientsResult : IResultRow
{
    public required string Scenario { get; init; }
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    public required int Healthy { get; init; }
    public required int Slow { get; init; }
    public required int Rate { get; init; }
    public required int PayloadBytes { get; init; }
    public required double BaselineP50Ms { get; init; }
    public required double BaselineP99Ms { get; init; }
    public required double SlowP50Ms { get; init; }
    public required double SlowP99Ms { get; init; }
    public required double P50ChangePercent { get; init; }
    public required double P99ChangePercent { get; init; }
    public required double BaselineRssPeakMiB { get; init; }
    public required double SlowRssPeakMiB { get; init; }
    public required double SlowRssFinalMiB { get; init; }
    /// <summary>Lost and duplicated deliveries to healthy clients in the slow step.</summary>
    public required long HealthyLost { get; init; }
    public required long HealthyDuplicates { get; init; }
    public required int HealthyDisconnects { get; init; }
    /// <summary>Slow clients the server disconnected (by the end of the slow step, read after resuming them).</summary>
    public required int SlowDisconnected { get; init; }
    /// <summary>How the slow clients ended, e.g. "10× close 3008 slow" or "10× still connected".</summary>
    public required string SlowOutcome { get; init; }
    public required double GeneratorCpuPercent { get; init; }
    public required bool GeneratorSaturated { get; init; }
}

/// <summary>The idle scenario for one server and repeat: memory per idle connection.</summary>
internal sealed record IdleResult : IResultRow
{
    public required string Scenario { get; init; }
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    public required int Connections { get; init; }
    public required int Workers { get; init; }
    public required int Channels { get; init; }
    public required int Joined { get; init; }
    public required int Failed { get; init; }
    public required double ConnectSeconds { get; init; }
    public required double ConnectsPerSecond { get; init; }
    /// <summary>Joined connections still open after the quiet period.</summary>
    public required int AliveAfterQuiet { get; init; }
    public required double QuietSeconds { get; init; }
    public required double RssBeforeMiB { get; init; }
    public required double RssAfterMiB { get; init; }
    public required double KiBPerConnection { get; init; }
    public required double ServerPeakRssMiB { get; init; }
    public required double ServerCpuSecondsConnect { get; init; }
    /// <summary>Generator CPU (this process and its workers) during the connect phase, % of one core.</summary>
    public required double GeneratorCpuPercent { get; init; }
    public required bool GeneratorSaturated { get; init; }
}

/// <summary>The churn scenario for one server and repeat: connect → join → close as fast as the loops go.</summary>
internal sealed record ChurnResult : IResultRow
{
    public required string Scenario { get; init; }
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    public required int Concurrency { get; init; }
    public required int Sources { get; init; }
    public required double DurationSeconds { get; init; }
    public required long Completed { get; init; }
    public required double ConnectsPerSecond { get; init; }
    public required double P50Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double MaxMs { get; init; }
    public required long Errors { get; init; }
    public required string FirstError { get; init; }
    public required double ServerCpuSeconds { get; init; }
    public required double ServerCpuPercent { get; init; }
    /// <summary>Server CPU seconds per 1,000 completed connects.</summary>
    public required double ServerCpuSecondsPer1000 { get; init; }
    public required double ServerPeakRssMiB { get; init; }
    public required double GeneratorCpuPercent { get; init; }
    public required bool GeneratorSaturated { get; init; }
}

/// <summary>Every row of a run, by kind.</summary>
internal sealed class ResultSet
{
    private readonly Lock _lock = new();

    public List<StepResult> Steps { get; } = [];

    public List<SlowClientsResult> SlowClients { get; } = [];

    public List<IdleResult> Idle { get; } = [];

    public List<ChurnResult> Churn { get; } = [];

    public List<TransportResult> Transports { get; } = [];

    public void Add(TransportResult r)
    {
        lock (_lock)
        {
            Transports.Add(r);
        }
    }

    public void Add(StepResult r)
    {
        lock (_lock)
        {
            Steps.Add(r);
        }
    }

    public void Add(SlowClientsResult r)
    {
        lock (_lock)
        {
            SlowClients.Add(r);
        }
    }

    public void Add(IdleResult r)
    {
        lock (_lock)
        {
            Idle.Add(r);
        }
    }

    public void Add(ChurnResult r)
    {
        lock (_lock)
        {
            Churn.Add(r);
        }
    }
}
