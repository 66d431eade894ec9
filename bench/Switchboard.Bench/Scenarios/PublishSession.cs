using System.Diagnostics;
using HdrHistogram;

namespace Switchboard.Bench;

/// <summary>What one publishing step is: its rate and length, and how its rows are labelled.</summary>
internal sealed record StepSpec(string Scenario, string Phase, int Rate, int Seconds, int Repeat, int PayloadBytes);

/// <summary>
/// Subscribers joined to a server's rooms and an HTTP publisher: runs open-loop publishing steps
/// (shared by broadcast, many-channels and slow-clients). Subscriber <c>i</c> joins room
/// <c>i % rooms</c>; publication <c>seq</c> goes to room <c>seq % rooms</c>.
/// </summary>
internal sealed class PublishSession : IAsyncDisposable
{
    private static int s_stepCounter;

    private readonly ScenarioContext _context;
    private readonly ServerKind _kind;
    private readonly ServerProcess _server;
    private readonly string[] _rooms;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _keepAliveCts = new();
    private readonly Func<int, RunState, string, Subscriber>? _factory;
    private readonly WireCounter? _wire;
    private Task? _keepAlive;

    /// <param name="factory">Makes subscriber (id, run, room); default: the server kind's WebSocket subscriber.</param>
    /// <param name="wire">Counts the subscribers' socket bytes (the factory's subscribers must go through it); each step reports them.</param>
    public PublishSession(
        ScenarioContext context, ServerKind kind, ServerProcess server, string[] rooms,
        Func<int, RunState, string, Subscriber>? factory = null, WireCounter? wire = null)
    {
        _context = context;
        _kind = kind;
        _server = server;
        _rooms = rooms;
        _factory = factory;
        _wire = wire;
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 64,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        })
        {
            BaseAddress = server.BaseUri,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public RunState Run { get; } = new();

    /// <summary>Redis CPU while nothing is published, % of a core (<see cref="MeasureRedisIdleAsync"/>); NaN when not measured.</summary>
    public double RedisIdleCpuPercent { get; private set; } = double.NaN;

    /// <summary>
    /// Measures the Redis sidecar's CPU over <paramref name="duration"/> with the subscribers
    /// joined and nothing published (its own timers, the nodes' heartbeats and keep-alives): the
    /// fixed part of its CPU, which a step's Redis CPU per 1,000 publications includes.
    /// </summary>
    public async Task MeasureRedisIdleAsync(TimeSpan duration, CancellationToken ct)
    {
        if (!_server.HasRedis)
        {
            return;
        }
        var start = _server.SampleCpu();
        var wall = Stopwatch.StartNew();
        await Task.Delay(duration, ct);
        var cpu = _server.SampleCpu().Minus(start);
        RedisIdleCpuPercent = 100 * cpu.Redis / wall.Elapsed.TotalSeconds;
    }

    public List<Subscriber> Subscribers { get; } = [];

    /// <summary>Adds a subscriber to the next room (round-robin); it connects in <see cref="EnsureConnectedAsync"/>.</summary>
    public Subscriber Add(HttpMessageInvoker? invoker = null)
    {
        var id = Subscribers.Count;
        var room = id % _rooms.Length;
        var s = _factory is null ? _kind.CreateSubscriber(id, Run, _rooms[room]) : _factory(id, Run, _rooms[room]);
        s.SeqStride = _rooms.Length;
        s.SeqOffset = room;
        if (invoker is not null)
        {
            s.Invoker = invoker;
        }
        Subscribers.Add(s);
        return s;
    }

    /// <summary>Connects every subscriber that is not connected (three attempts), then keeps them alive.</summary>
    public async Task EnsureConnectedAsync(CancellationToken ct)
    {
        await ConnectAllAsync(Subscribers, _server.WebSocketBaseUri, _context.Options.ConnectConcurrency, _context.Reporter.Log, ct);
        _keepAlive ??= KeepAliveLoopAsync(Subscribers, _keepAliveCts.Token);
    }

    /// <summary>Connects the subscribers that are down, up to three attempts each.</summary>
    public static async Task ConnectAllAsync(
        IReadOnlyList<Subscriber> subscribers, Uri webSocketBaseUri, int concurrency, Action<string> log, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var down = subscribers.Where(s => !s.Alive).ToArray();
            if (down.Length == 0)
            {
                return;
            }
            var failures = 0;
            string? firstError = null;
            await Parallel.ForEachAsync(
                down,
                new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
                async (s, token) =>
                {
                    try
                    {
                        await s.ConnectAsync(webSocketBaseUri, TimeSpan.FromSeconds(15), token);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref failures);
                        Interlocked.CompareExchange(ref firstError, e.Message, null);
                    }
                });
            if (failures == 0)
            {
                return;
            }
            log($"{failures} subscribers failed to join (attempt {attempt}): {firstError}");
            if (attempt == 3)
            {
                throw new InvalidOperationException($"{failures} subscribers could not join: {firstError}");
            }
        }
    }

    /// <summary>Sends each protocol's client-side keep-alive every 10 s (servers answer or expect it).</summary>
    public static async Task KeepAliveLoopAsync(IReadOnlyList<Subscriber> subscribers, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var s in subscribers)
                {
                    if (s.Alive)
                    {
                        await s.KeepAliveAsync();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One open-loop publishing step; only <see cref="Subscriber.Measured"/> subscribers are reported.</summary>
    public async Task<StepResult> RunStepAsync(StepSpec spec, CancellationToken ct)
    {
        var options = _context.Options;
        var reporter = _context.Reporter;
        var rate = spec.Rate;
        var total = checked(rate * spec.Seconds);
        var state = new StepState(Interlocked.Increment(ref s_stepCounter), total);
        foreach (var s in Subscribers)
        {
            s.PrepareStep(total);
        }
        var measured = Subscribers.Where(s => s.Measured).ToArray();
        var live = measured.Where(s => s.Alive).ToArray();
        var liveInRoom = new int[_rooms.Length];
        foreach (var s in live)
        {
            liveInRoom[s.SeqOffset]++;
        }
        var disconnectsBefore = measured.Sum(s => s.Disconnects);
        Run.Current = state;

        var selfPid = Environment.ProcessId;
        var serverCpu0 = _server.SampleCpu();
        var selfCpu0 = ProcStats.CpuSeconds(selfPid);
        var wire0 = _wire?.Snapshot() ?? default;
        var wall = Stopwatch.StartNew();
        await using var rss = new RssSampler(_server);

        // Open loop: publication i is due at start + i/rate, whatever happened to earlier ones.
        long maxLagTicks = 0;
        var pending = new Task[total];
        await Task.Factory.StartNew(
            () =>
            {
                var start = Stopwatch.GetTimestamp();
                var freq = (double)Stopwatch.Frequency;
                for (var i = 0; i < total; i++)
                {
                    var due = start + (long)(i * freq / rate);
                    // Sleep, never spin: the generator's one core belongs to the subscribers. Publications
                    // therefore leave in bursts of ~1 ms worth (rate/1000); each carries its real send time.
                    while (due - Stopwatch.GetTimestamp() > 0)
                    {
                        Thread.Sleep(1);
                    }
                    var now = Stopwatch.GetTimestamp();
                    maxLagTicks = Math.Max(maxLagTicks, now - due);
                    pending[i] = PublishAsync(state, i, now, spec.PayloadBytes);
                }
            },
            ct,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        try
        {
            await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(15), ct);
        }
        catch (TimeoutException)
        {
            reporter.Log($"{_kind.Name}: publish requests still unanswered 15 s after the step");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Failed publishes are counted (PublishErrors) and excluded from the expected deliveries.
            reporter.Log($"{_kind.Name}: {pending.Count(t => t.IsFaulted || t.IsCanceled)} publish requests failed, first: {e.Message}");
        }
        long published = 0, expected = 0;
        for (var i = 0; i < total; i++)
        {
            if (state.PublishedOk[i] != 0)
            {
                published++;
                expected += liveInRoom[i % _rooms.Length];
            }
        }

        // Drain: wait for outstanding deliveries (or the drain limit).
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed.TotalSeconds < options.DrainSeconds && live.Sum(s => s.Delivered) < expected)
        {
            await Task.Delay(20, ct);
        }
        var drainSeconds = drain.Elapsed.TotalSeconds;
        var elapsed = wall.Elapsed.TotalSeconds;
        var wire1 = _wire?.Snapshot() ?? default;
        var cpu = _server.SampleCpu().Minus(serverCpu0);
        var serverCpu = cpu.Total;
        var selfCpu = ProcStats.CpuSeconds(selfPid) - selfCpu0;
        await rss.DisposeAsync();
        Run.Current = null;

        long delivered = 0, duplicates = 0, lost = 0;
        foreach (var s in live)
        {
            delivered += s.Delivered;
            duplicates += s.Duplicates;
            for (var i = s.SeqOffset; i < total; i += s.SeqStride)
            {
                if (state.PublishedOk[i] != 0 && !s.Seen(i))
                {
                    lost++;
                }
            }
        }

        // Settle: the next step starts only once nothing has arrived for a second, so that a
        // server's backlog from this step is not measured as the next step's latency.
        var settle = Stopwatch.StartNew();
        var lastTotal = -1L;
        var quietSince = Stopwatch.GetTimestamp();
        while (settle.Elapsed.TotalSeconds < options.SettleSeconds)
        {
            var totalNow = Run.OutOfStep + live.Sum(s => s.Delivered + s.Duplicates);
            if (totalNow != lastTotal)
            {
                lastTotal = totalNow;
                quietSince = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(quietSince) >= TimeSpan.FromSeconds(1))
            {
                break;
            }
            await Task.Delay(50, ct);
        }
        var settleSeconds = settle.Elapsed.TotalSeconds;

        var h = state.Merged();
        double Ms(long micros) => micros / 1000.0;
        var generatorCpu = 100 * selfCpu / elapsed;
        return new StepResult
        {
            Scenario = spec.Scenario,
            Server = _kind.Name,
            Repeat = spec.Repeat,
            Phase = spec.Phase,
            Rate = rate,
            DurationSeconds = spec.Seconds,
            Channels = _rooms.Length,
            PayloadBytes = Payload.Format(state.Step, total - 1, Stopwatch.GetTimestamp(), spec.PayloadBytes).Length,
            Subscribers = measured.Length,
            ConnectedAtStart = live.Length,
            Attempted = total,
            Published = published,
            PublishErrors = total - published,
            Expected = expected,
            Delivered = delivered,
            DeliveriesPerSecond = delivered / elapsed, // publishing + drain: until the last delivery
            DeliveredPercent = expected > 0 ? 100.0 * delivered / expected : double.NaN,
            Lost = lost,
            Duplicates = duplicates,
            Disconnects = measured.Sum(s => s.Disconnects) - disconnectsBefore,
            P50Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(50)) : double.NaN,
            P99Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(99)) : double.NaN,
            P999Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(99.9)) : double.NaN,
            MaxMs = h.TotalCount > 0 ? Ms(h.GetMaxValue()) : double.NaN,
            MeanMs = h.TotalCount > 0 ? h.GetMean() / 1000.0 : double.NaN,
            ServerCpuSeconds = serverCpu,
            ServerCpuPercent = 100 * serverCpu / elapsed,
            Nodes = cpu.Nodes.Length,
            NodeACpuSeconds = cpu.Nodes[0],
            NodeBCpuSeconds = cpu.Nodes.Length > 1 ? cpu.Nodes[^1] : double.NaN,
            RedisCpuSeconds = cpu.Redis,
            RedisCpuSecondsPer1000Pubs = published > 0 ? cpu.Redis * 1000 / published : double.NaN,
            RedisIdleCpuPercent = RedisIdleCpuPercent,
            ServerPeakRssMiB = _server.PeakRssMiB(),
            RedisPeakRssMiB = _server.RedisPeakRssMiB(),
            ServerRssSampledPeakMiB = rss.PeakMiB,
            ServerRssFinalMiB = rss.LastMiB,
            GeneratorCpuPercent = generatorCpu,
            GeneratorSaturated = Saturation.Is(generatorCpu),
            MaxPublishLagMs = maxLagTicks * 1000.0 / Stopwatch.Frequency,
            DrainSeconds = drainSeconds,
            WallSeconds = elapsed,
            SettleSeconds = settleSeconds,
            ServerCpuSecondsPerMillionDeliveries = delivered > 0 ? serverCpu * 1e6 / delivered : double.NaN,
            WireBytesReceived = _wire is null ? double.NaN : wire1.Read - wire0.Read,
            WireBytesSent = _wire is null ? double.NaN : wire1.Written - wire0.Written,
            WireBytesReceivedPerDelivery = _wire is null || delivered == 0 ? double.NaN : (double)(wire1.Read - wire0.Read) / delivered,
            WireBytesSentPerDelivery = _wire is null || delivered == 0 ? double.NaN : (double)(wire1.Written - wire0.Written) / delivered,
        };
    }

    /// <summary>The log line of a step.</summary>
    public static string Describe(StepResult r) =>
        $"p50 {r.P50Ms:F2} ms, p99 {r.P99Ms:F2} ms, p99.9 {r.P999Ms:F2} ms, " +
        $"{r.DeliveriesPerSecond:F0} deliveries/s ({r.DeliveredPercent:F1}% of offered), lost {r.Lost}, dup {r.Duplicates}, " +
        $"server CPU {r.ServerCpuSeconds:F1} s ({r.ServerCpuPercent:F0}%){CpuParts(r)}, RSS peak {r.ServerPeakRssMiB:F0} MiB, " +
        $"generator CPU {r.GeneratorCpuPercent:F0}%{Saturation.Mark(r)}";

    /// <summary>The server CPU's parts, when there are several: " = node A … + node B … + Redis … (… s per 1,000 pubs)".</summary>
    private static string CpuParts(StepResult r)
    {
        if (double.IsNaN(r.RedisCpuSeconds) && r.Nodes == 1)
        {
            return "";
        }
        var parts = r.Nodes > 1 ? $"node A {r.NodeACpuSeconds:F1} s + node B {r.NodeBCpuSeconds:F1} s" : $"node {r.NodeACpuSeconds:F1} s";
        if (!double.IsNaN(r.RedisCpuSeconds))
        {
            parts += $" + Redis {r.RedisCpuSeconds:F2} s ({r.RedisCpuSecondsPer1000Pubs:F3} s per 1,000 pubs)";
        }
        return " = " + parts;
    }

    public async ValueTask DisposeAsync()
    {
        await _keepAliveCts.CancelAsync();
        if (_keepAlive is not null)
        {
            await _keepAlive;
        }
        await Task.WhenAll(Subscribers.Select(s => s.CloseAsync()));
        _http.Dispose();
        _keepAliveCts.Dispose();
    }

    private async Task PublishAsync(StepState state, int seq, long timestamp, int payloadBytes)
    {
        var payload = payloadBytes > 0 ? Payload.Format(state.Step, seq, timestamp, payloadBytes) : Payload.Format(state.Step, seq, timestamp);
        using var request = _kind.PublishRequest(_rooms[seq % _rooms.Length], payload);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, CancellationToken.None);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"publish answered {(int)response.StatusCode}");
        }
        var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
        if (body.Contains("\"error\"", StringComparison.Ordinal))
        {
            throw new HttpRequestException("publish answered " + body);
        }
        state.PublishedOk[seq] = 1;
    }
}
