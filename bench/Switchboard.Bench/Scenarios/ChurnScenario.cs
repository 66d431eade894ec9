using System.Diagnostics;
using HdrHistogram;

namespace Switchboard.Bench;

/// <summary>
/// Connection churn: <c>--concurrency</c> loops, each connect → join a room → close, again and
/// again for <c>--duration</c> seconds, spread over <c>--sources</c> loopback source addresses so
/// that ephemeral ports and TIME_WAIT do not run out. Reports completed connects per second, the
/// connect+join latency, errors and server CPU per 1,000 connects.
/// </summary>
internal sealed class ChurnScenario(ScenarioContext context) : Scenario(context)
{
    private const long HighestMicros = 600_000_000;

    public override string Name => "churn";

    private int Seconds => Options.DurationSet ?? 10;

    public override int ProgressSteps => 1;

    public override string Describe() =>
        $"churn: {Options.Concurrency} loops of connect → join (1 of {Options.Channels} rooms) → close for {Seconds} s, " +
        $"from {Options.Sources} source address(es)";

    public override async Task RunAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        var tag = Tag(kind, repeat);
        await using var server = await StartServerAsync(kind, repeat, ct);
        var invokers = Enumerable.Range(0, Options.Sources).Select(i => Transport.Create(Transport.SourceAddress(i), null)).ToArray();
        try
        {
            var rooms = Rooms(Options.Channels);
            var run = new RunState();
            var nextId = 0;
            if (Options.WarmupSeconds > 0)
            {
                Reporter.Advance($"{tag}: warm-up churn × {Options.WarmupSeconds} s (not measured)", 0);
                await ChurnAsync(kind, server, invokers, rooms, run, () => Interlocked.Increment(ref nextId), Options.WarmupSeconds, ct);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            Reporter.Advance($"{tag}: {Options.Concurrency} loops × {Seconds} s", 0);
            var selfPid = Environment.ProcessId;
            var serverCpu0 = server.CpuSeconds();
            var selfCpu0 = ProcStats.CpuSeconds(selfPid);
            var sw = Stopwatch.StartNew();
            var m = await ChurnAsync(kind, server, invokers, rooms, run, () => Interlocked.Increment(ref nextId), Seconds, ct);
            var elapsed = sw.Elapsed.TotalSeconds;
            var serverCpu = server.CpuSeconds() - serverCpu0;
            var generatorCpu = 100 * (ProcStats.CpuSeconds(selfPid) - selfCpu0) / elapsed;
            var h = m.Histogram;
            var result = new ChurnResult
            {
                Scenario = Name,
                Server = kind.Name,
                Repeat = repeat,
                Concurrency = Options.Concurrency,
                Sources = Options.Sources,
                DurationSeconds = elapsed,
                Completed = m.Completed,
                ConnectsPerSecond = m.Completed / elapsed,
                P50Ms = h.TotalCount > 0 ? h.GetValueAtPercentile(50) / 1000.0 : double.NaN,
                P99Ms = h.TotalCount > 0 ? h.GetValueAtPercentile(99) / 1000.0 : double.NaN,
                MaxMs = h.TotalCount > 0 ? h.GetMaxValue() / 1000.0 : double.NaN,
                Errors = m.Errors,
                FirstError = m.FirstError ?? "",
                ServerCpuSeconds = serverCpu,
                ServerCpuPercent = 100 * serverCpu / elapsed,
                ServerCpuSecondsPer1000 = m.Completed > 0 ? serverCpu * 1000 / m.Completed : double.NaN,
                ServerPeakRssMiB = server.PeakRssMiB(),
                GeneratorCpuPercent = generatorCpu,
                GeneratorSaturated = Saturation.Is(generatorCpu),
            };
            Context.Results.Add(result);
            Reporter.Advance(null, 1);
            Reporter.Log(
                $"{tag}: {result.Completed} connects in {elapsed:F1} s = {result.ConnectsPerSecond:F0}/s, connect+join p50 {result.P50Ms:F2} ms, " +
                $"p99 {result.P99Ms:F2} ms, errors {result.Errors}{(result.Errors > 0 ? $" ({result.FirstError})" : "")}, " +
                $"server CPU {serverCpu:F1} s ({result.ServerCpuPercent:F0}%) = {result.ServerCpuSecondsPer1000:F2} s per 1,000 connects, " +
                $"generator CPU {generatorCpu:F0}%{Saturation.Mark(result)}");
            if (server.HasExited)
            {
                throw new InvalidOperationException($"{kind.Name} exited during the run");
            }
        }
        finally
        {
            foreach (var i in invokers)
            {
                i.Dispose();
            }
        }
    }

    /// <summary>What the loops measured: connect+join latencies of completed cycles, and failures.</summary>
    private sealed class Measurement
    {
        public LongHistogram Histogram { get; } = new(1, HighestMicros, 3);

        public long Completed;

        public long Errors;

        public string? FirstError;
    }

    private async Task<Measurement> ChurnAsync(
        ServerKind kind, ServerProcess server, HttpMessageInvoker[] invokers, string[] rooms, RunState run,
        Func<int> nextId, int seconds, CancellationToken ct)
    {
        var m = new Measurement();
        var end = Stopwatch.GetTimestamp() + (seconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, Options.Concurrency).Select(loop => Task.Run(
            async () =>
            {
                while (Stopwatch.GetTimestamp() < end && !ct.IsCancellationRequested)
                {
                    var id = nextId();
                    var s = kind.CreateSubscriber(id, run, rooms[id % rooms.Length]);
                    s.Invoker = invokers[loop % invokers.Length];
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await s.ConnectAsync(server.WebSocketBaseUri, TimeSpan.FromSeconds(15), ct);
                        var micros = Math.Clamp(Stopwatch.GetElapsedTime(t0).Ticks / 10, 1, HighestMicros);
                        lock (m.Histogram)
                        {
                            m.Histogram.RecordValue(micros);
                        }
                        Interlocked.Increment(ref m.Completed);
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref m.Errors);
                        Interlocked.CompareExchange(ref m.FirstError, e.Message, null);
                        await Task.Delay(10, CancellationToken.None); // do not spin on a refusing server
                    }
                    finally
                    {
                        await s.CloseAsync();
                    }
                }
            },
            CancellationToken.None)).ToArray();
        await Task.WhenAll(loops);
        return m;
    }
}
