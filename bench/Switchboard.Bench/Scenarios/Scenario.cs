using System.Globalization;

namespace Switchboard.Bench;

/// <summary>What every scenario run needs: the options, where things are, where to report.</summary>
internal sealed record ScenarioContext(Options Options, string RepoRoot, string ResultsDir, IReporter Reporter, ResultSet Results);

/// <summary>One workload, run against one freshly started server per (server, repeat).</summary>
internal abstract class Scenario(ScenarioContext context)
{
    protected ScenarioContext Context { get; } = context;

    protected Options Options => Context.Options;

    protected IReporter Reporter => Context.Reporter;

    public abstract string Name { get; }

    /// <summary>One line saying what this scenario does with the options given.</summary>
    public abstract string Describe();

    /// <summary>Progress-bar steps of one server run.</summary>
    public abstract int ProgressSteps { get; }

    /// <summary>Starts the server, runs the workload, adds its rows to the result set.</summary>
    public abstract Task RunAsync(ServerKind kind, int repeat, CancellationToken ct);

    public static Scenario Create(string name, ScenarioContext context) => name switch
    {
        "broadcast" => new BroadcastScenario(context),
        "many-channels" => new ManyChannelsScenario(context),
        "slow-clients" => new SlowClientsScenario(context),
        "idle" => new IdleScenario(context),
        "churn" => new ChurnScenario(context),
        "transports" => new TransportsScenario(context),
        _ => throw new ArgumentException($"unknown scenario '{name}'"),
    };

    /// <summary>Room names: the broadcast scenario's one room keeps its historic name.</summary>
    public static string[] Rooms(int count) =>
        count == 1 ? [ServerKind.Room] : Enumerable.Range(0, count).Select(i => "room" + i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Starts a fresh server process for this scenario and waits until it is healthy.</summary>
    protected async Task<ServerProcess> StartServerAsync(ServerKind kind, int repeat, CancellationToken ct)
    {
        // The broadcast scenario keeps its historic log names.
        var logName = Name == "broadcast" ? $"{kind.Name}-{repeat}.log" : $"{Name}-{kind.Name}-{repeat}.log";
        var server = ServerProcess.Start(kind, Context.RepoRoot, Options.NoPin ? null : Options.ServerCore, Path.Combine(Context.ResultsDir, logName));
        try
        {
            await server.WaitHealthyAsync(kind.HealthPath, TimeSpan.FromSeconds(60), ct);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        Reporter.Log($"{Tag(kind, repeat)}: healthy: {server.Describe()}");
        return server;
    }

    protected string Tag(ServerKind kind, int repeat) => Name == "broadcast" ? $"{kind.Name} #{repeat}" : $"{Name} {kind.Name} #{repeat}";
}

/// <summary>Samples the server's RSS every 500 ms while it runs (peak and last sample).</summary>
internal sealed class RssSampler : IAsyncDisposable
{
    private readonly ServerProcess _server;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _loop;
    private double _peak = double.NaN;
    private double _last = double.NaN;
    private bool _disposed;

    public RssSampler(ServerProcess server)
    {
        _server = server;
        Sample();
        _loop = LoopAsync();
    }

    public double PeakMiB => Volatile.Read(ref _peak);

    public double LastMiB => Volatile.Read(ref _last);

    /// <summary>Takes one last sample and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _cts.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        Sample();
        _cts.Dispose();
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (await timer.WaitForNextTickAsync(_cts.Token))
        {
            Sample();
        }
    }

    private void Sample()
    {
        var rss = _server.RssMiB();
        if (double.IsNaN(rss))
        {
            return;
        }
        Volatile.Write(ref _last, rss);
        if (double.IsNaN(_peak) || rss > _peak)
        {
            Volatile.Write(ref _peak, rss);
        }
    }
}
