using HdrHistogram;
using System.Diagnostics;

namespace Switchboard.Bench;

/// <summary>The measurements of one step: one server, one publication rate, one repeat.</summary>
internal sealed record StepResult
{
    public required string Server { get; init; }
    public required int Repeat { get; init; }
    public required int Rate { get; init; }
    public required double DurationSeconds { get; init; }
    public required int Subscribers { get; init; }
    public required int ConnectedAtStart { get; init; }
    public required long Attempted { get; init; }
    /// <summary>Publish requests the server answered with success (the others are not expected anywhere).</summary>
    public required long Published { get; init; }
    public required long PublishErrors { get; init; }
    public required long Expected { get; init; }
    public required long Delivered { get; init; }
    public required double DeliveriesPerSecond { get; init; }
    public required long Lost { get; init; }
    public required long Duplicates { get; init; }
    public required int Disconnects { get; init; }
    public required double P50Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double P999Ms { get; init; }
    public required double MaxMs { get; init; }
    public required double MeanMs { get; init; }
    public required double ServerCpuSeconds { get; init; }
    public required double ServerCpuPercent { get; init; }
    public required double ServerPeakRssMiB { get; init; }
    public required double GeneratorCpuPercent { get; init; }
    public required double MaxPublishLagMs { get; init; }
    public required double DrainSeconds { get; init; }
    public required double SettleSeconds { get; init; }
}

/// <summary>Runs the broadcast scenario against one freshly started server.</summary>
internal sealed class Runner(Options options, string repoRoot, string resultsDir, IReporter reporter)
{
    private int _stepCounter;

    public async Task<List<StepResult>> RunServerAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        var results = new List<StepResult>();
        var logPath = Path.Combine(resultsDir, $"{kind.Name}-{repeat}.log");
        await using var server = ServerProcess.Start(kind, repoRoot, options.NoPin ? null : options.ServerCore, logPath);
        await server.WaitHealthyAsync(kind.HealthPath, TimeSpan.FromSeconds(60), ct);
        reporter.Log($"{kind.Name} #{repeat}: pid {server.Pid} on port {server.Port}, healthy, allowed CPUs {ProcStats.AllowedCpus(server.Pid)}");

        var run = new RunState();
        var subscribers = Enumerable.Range(0, options.Subscribers).Select(i => kind.CreateSubscriber(i, run, ServerKind.Room)).ToArray();
        var sw = Stopwatch.StartNew();
        await EnsureConnectedAsync(subscribers, server, ct);
        reporter.Log($"{kind.Name} #{repeat}: {subscribers.Length} subscribers joined in {sw.Elapsed.TotalSeconds:F1} s");

        using var keepAliveCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var keepAlive = KeepAliveLoopAsync(subscribers, keepAliveCts.Token);

        using var http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 64,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        })
        {
            BaseAddress = server.BaseUri,
            Timeout = TimeSpan.FromSeconds(30),
        };

        try
        {
            if (options.WarmupSeconds > 0)
            {
                var warmupRate = options.WarmupRate > 0 ? options.WarmupRate : options.Rates[0];
                reporter.Advance($"{kind.Name} #{repeat}: warm-up {warmupRate}/s × {options.WarmupSeconds} s (not measured)", 0);
                await RunStepAsync(kind, server, http, run, subscribers, warmupRate, options.WarmupSeconds, repeat, ct);
            }
            foreach (var rate in options.Rates)
            {
                await EnsureConnectedAsync(subscribers, server, ct);
                reporter.Advance($"{kind.Name} #{repeat}: {rate} pubs/s × {options.DurationSeconds} s", 0);
                var result = await RunStepAsync(kind, server, http, run, subscribers, rate, options.DurationSeconds, repeat, ct);
                results.Add(result);
                reporter.Advance(null, 1);
                reporter.Log(
                    $"{kind.Name} #{repeat} {rate}/s: p50 {result.P50Ms:F2} ms, p99 {result.P99Ms:F2} ms, p99.9 {result.P999Ms:F2} ms, " +
                    $"{result.DeliveriesPerSecond:F0} deliveries/s, lost {result.Lost}, dup {result.Duplicates}, " +
                    $"server CPU {result.ServerCpuSeconds:F1} s ({result.ServerCpuPercent:F0}%), RSS peak {result.ServerPeakRssMiB:F0} MiB, " +
                    $"generator CPU {result.GeneratorCpuPercent:F0}%");
                if (server.HasExited)
                {
                    throw new InvalidOperationException($"{kind.Name} exited during the run");
                }
            }
        }
        finally
        {
            await keepAliveCts.CancelAsync();
            try
            {
                await keepAlive;
            }
            catch (OperationCanceledException)
            {
            }
            await Task.WhenAll(subscribers.Select(s => s.CloseAsync()));
        }
        return results;
    }

    private async Task EnsureConnectedAsync(Subscriber[] subscribers, ServerProcess server, CancellationToken ct)
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
                new ParallelOptions { MaxDegreeOfParallelism = options.ConnectConcurrency, CancellationToken = ct },
                async (s, token) =>
                {
                    try
                    {
                        await s.ConnectAsync(server.WebSocketBaseUri, TimeSpan.FromSeconds(15), token);
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
            reporter.Log($"{failures} subscribers failed to join (attempt {attempt}): {firstError}");
            if (attempt == 3)
            {
                throw new InvalidOperationException($"{failures} subscribers could not join: {firstError}");
            }
        }
    }

    private static async Task KeepAliveLoopAsync(Subscriber[] subscribers, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
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

    private async Task<StepResult> RunStepAsync(
        ServerKind kind, ServerProcess server, HttpClient http, RunState run, Subscriber[] subscribers,
        int rate, int seconds, int repeat, CancellationToken ct)
    {
        var total = checked(rate * seconds);
        var state = new StepState(Interlocked.Increment(ref _stepCounter), total);
        foreach (var s in subscribers)
        {
            s.PrepareStep(total);
        }
        var live = subscribers.Where(s => s.Alive).ToArray();
        var disconnectsBefore = subscribers.Sum(s => s.Disconnects);
        run.Current = state;

        var selfPid = Environment.ProcessId;
        var serverCpu0 = server.CpuSeconds();
        var selfCpu0 = ProcStats.CpuSeconds(selfPid);
        var wall = Stopwatch.StartNew();

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
                    pending[i] = PublishAsync(http, kind, state, i, now);
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
            reporter.Log($"{kind.Name}: publish requests still unanswered 15 s after the step");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Failed publishes are counted (PublishErrors) and excluded from the expected deliveries.
            reporter.Log($"{kind.Name}: {pending.Count(t => t.IsFaulted || t.IsCanceled)} publish requests failed, first: {e.Message}");
        }
        long published = 0;
        for (var i = 0; i < total; i++)
        {
            published += state.PublishedOk[i];
        }
        var expected = published * live.Length;

        // Drain: wait for outstanding deliveries (or the drain limit).
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed.TotalSeconds < options.DrainSeconds && live.Sum(s => s.Delivered) < expected)
        {
            await Task.Delay(20, ct);
        }
        var drainSeconds = drain.Elapsed.TotalSeconds;
        var elapsed = wall.Elapsed.TotalSeconds;
        var serverCpu = server.CpuSeconds() - serverCpu0;
        var selfCpu = ProcStats.CpuSeconds(selfPid) - selfCpu0;
        run.Current = null;

        long delivered = 0, duplicates = 0, lost = 0;
        foreach (var s in live)
        {
            delivered += s.Delivered;
            duplicates += s.Duplicates;
            for (var i = 0; i < total; i++)
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
            var totalNow = run.OutOfStep + live.Sum(s => s.Delivered + s.Duplicates);
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
        return new StepResult
        {
            Server = kind.Name,
            Repeat = repeat,
            Rate = rate,
            DurationSeconds = seconds,
            Subscribers = subscribers.Length,
            ConnectedAtStart = live.Length,
            Attempted = total,
            Published = published,
            PublishErrors = total - published,
            Expected = expected,
            Delivered = delivered,
            DeliveriesPerSecond = delivered / elapsed, // publishing + drain: until the last delivery
            Lost = lost,
            Duplicates = duplicates,
            Disconnects = subscribers.Sum(s => s.Disconnects) - disconnectsBefore,
            P50Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(50)) : double.NaN,
            P99Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(99)) : double.NaN,
            P999Ms = h.TotalCount > 0 ? Ms(h.GetValueAtPercentile(99.9)) : double.NaN,
            MaxMs = h.TotalCount > 0 ? Ms(h.GetMaxValue()) : double.NaN,
            MeanMs = h.TotalCount > 0 ? h.GetMean() / 1000.0 : double.NaN,
            ServerCpuSeconds = serverCpu,
            ServerCpuPercent = 100 * serverCpu / elapsed,
            ServerPeakRssMiB = server.PeakRssMiB(),
            GeneratorCpuPercent = 100 * selfCpu / elapsed,
            MaxPublishLagMs = maxLagTicks * 1000.0 / Stopwatch.Frequency,
            DrainSeconds = drainSeconds,
            SettleSeconds = settleSeconds,
        };
    }

    private static async Task PublishAsync(HttpClient http, ServerKind kind, StepState state, int seq, long timestamp)
    {
        using var request = kind.PublishRequest(ServerKind.Room, Payload.Format(state.Step, seq, timestamp));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, CancellationToken.None);
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
