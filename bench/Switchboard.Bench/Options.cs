using System.Globalization;

namespace Switchboard.Bench;

/// <summary>Command-line options of the load generator.</summary>
internal sealed class Options
{
    public IReadOnlyList<string> Servers { get; private set; } = ["switchboard", "signalr", "socketio"];
    /// <summary>The scenarios to run, in order (default: broadcast).</summary>
    public IReadOnlyList<string> Scenarios { get; private set; } = ["broadcast"];

    /// <summary>--subscribers when given; each scenario has its own default.</summary>
    public int? SubscribersSet { get; private set; }

    /// <summary>--rates when given; each scenario has its own default.</summary>
    public IReadOnlyList<int>? RatesSet { get; private set; }

    /// <summary>--duration when given; each scenario has its own default.</summary>
    public int? DurationSet { get; private set; }

    /// <summary>The broadcast scenario's subscribers.</summary>
    public int Subscribers => SubscribersSet ?? 1000;

    /// <summary>The broadcast scenario's rates.</summary>
    public IReadOnlyList<int> Rates => RatesSet ?? [100, 500, 1000, 2000];

    /// <summary>The broadcast scenario's step length.</summary>
    public int DurationSeconds => DurationSet ?? 10;

    public int Channels { get; private set; } = 100;
    public int? PayloadBytesSet { get; private set; }
    public int SlowClients { get; private set; } = 10;
    public int SlowReceiveBuffer { get; private set; } = 4096;
    public int Connections { get; private set; } = 19500;
    public int? WorkersSet { get; private set; }
    public int QuietSeconds { get; private set; } = 10;
    public int Concurrency { get; private set; } = 50;
    /// <summary>History size of Switchboard's bench channels (0: no history).</summary>
    public int HistorySize { get; private set; }
    public int Sources { get; private set; } = 4;
    /// <summary>The transports scenario's transports, in order.</summary>
    public IReadOnlyList<string> Transports { get; private set; } = ClientTransports.Names;
    /// <summary>The transports scenario's idle connections per transport (memory per idle connection).</summary>
    public int IdleConnections { get; private set; } = 2000;
    /// <summary>The transports scenario's comparison rate (null: its default).</summary>
    public int? ModerateRate { get; private set; }

    // Hidden: a generator worker process (idle scenario), started by the bench itself.
    public string? Worker { get; private set; }
    public string? Target { get; private set; }
    public string? Source { get; private set; }
    public int Count { get; private set; }
    public int IdOffset { get; private set; }

    public int WarmupSeconds { get; private set; } = 15;
    public int WarmupRate { get; private set; }
    public int SettleSeconds { get; private set; } = 20;
    public int DrainSeconds { get; private set; } = 5;
    public int Repeat { get; private set; } = 1;
    public int ConnectConcurrency { get; private set; } = 50;
    public string? RepoRoot { get; private set; }
    public string? OutputDirectory { get; private set; }
    public bool NoPin { get; private set; }
    public int ServerCore { get; private set; }
    public int GeneratorCore { get; private set; } = 1;
    public bool Help { get; private set; }
    /// <summary>--replot DIR: redraw the charts of a results folder from its results.json (no run).</summary>
    public string? Replot { get; private set; }

    public static string Usage => """
        Switchboard.Bench — Switchboard vs ASP.NET Core SignalR vs Socket.IO 4 (and other peers) on the same workloads.

        usage: dotnet bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll [options]

          --scenario LIST       broadcast, many-channels, slow-clients, idle, churn, transports (default broadcast);
                                several (comma-separated) run one after the other into one results folder
            broadcast           1 room × --subscribers (1000), one step per rate in --rates (100,500,1000,2000)
            many-channels       --subscribers (10000) round-robin over --channels (100) rooms, publications
                                round-robin over the rooms at each total rate in --rates (2000)
            slow-clients        --subscribers (1000) healthy + --slow-clients (10) on one room, --rates (100)
                                with --payload (1024) byte payloads: a baseline step, then a step where the
                                slow clients stop reading (--duration, default 30 s each)
            idle                --connections (19500) idle connections joined to --channels (100) rooms, opened
                                by --workers generator processes (default: one per 6500), each from its own
                                127.0.0.x address; server RSS before and after --quiet (10) s → KiB/connection
            churn               --concurrency (50) loops of connect → join → close for --duration (10) s,
                                spread over --sources (4) source addresses; connects/s, latency, server CPU
            transports          Switchboard only, per transport in --transports: --idle-connections (2000) on
                                a server of their own, RSS before/after --quiet → KiB per idle connection;
                                then on a fresh server --subscribers (1000) of one channel with history
                                (--history, default 1000 here), warm-up, and a ladder over --rates
                                (10,20,50,100,200,500,1000) × --duration (5) s that stops at the first step
                                that fails twice in a row (p99 ≥ 50 ms, a loss, a duplicate or a disconnect).
                                Latency, bytes the subscribers read/write on their sockets and server CPU
                                per delivery are compared at --moderate-rate
          --servers LIST        switchboard,signalr,socketio (default: these three, in that order); also
                                nchan (nginx + Nchan), and signalr-redis, socketio-redis, nchan-redis (each
                                with its Redis backplane and a redis-server of its own on the server core);
                                switchboard-redis (one Switchboard node on its Redis engine, a redis-server
                                of its own) and switchboard-cluster (two Redis-engine nodes sharing one
                                redis-server: publish requests to node A, subscribers on node B); every
                                process of the server side runs on the server core
          --subscribers N       WebSocket subscribers (default: per scenario, above)
          --transports LIST     websocket,protobuf,http_stream,sse,long_poll (default: all, in this order);
                                given alone it implies --scenario transports (and --servers switchboard)
          --idle-connections N  transports: idle connections per transport for memory (default 2000; 0: skip)
          --moderate-rate N     transports: the rate latency, bytes and CPU are compared at (default: the
                                second of --rates); measured even when the ladder stopped below it
          --channels N          rooms for many-channels and idle (default 100)
          --rates LIST          publications per second, one step each (default: per scenario, above)
          --duration S          seconds of publishing per step, or of churn (default 10; slow-clients 30)
          --payload BYTES       publication payload size, padded with a filler field (default: bare ~60 B;
                                slow-clients 1024)
          --history N           Switchboard kinds only: the bench channels keep N publications of history
                                (5 min TTL), so every publication is also appended to the channel's stream
                                (on Redis: XADD in the publish script); default 0, no history, as the peers
          --slow-clients N      subscribers that stop reading in slow-clients (default 10)
          --slow-receive-buffer BYTES   SO_RCVBUF of the slow clients' sockets (default 4096)
          --connections N       idle connections (default 19500)
          --workers N           generator processes for idle (default: connections / 6500, rounded up)
          --quiet S             idle: seconds of quiet after all joined, before measuring (default 10)
          --concurrency K       churn: concurrent connect → join → close loops (default 50)
          --sources N           churn: source addresses 127.0.0.2 … (default 4)
          --warmup S            seconds of unmeasured publishing before the first step (default 15: the
                                .NET servers finish tiered JIT compilation in it)
          --warmup-rate N       publications per second during the warm-up (default: the first rate)
          --settle S            after each step, wait up to S seconds until nothing arrives for 1 s (default 20)
          --drain S             seconds to wait for outstanding deliveries after a step (default 5)
          --repeat N            run the whole sequence N times (fresh servers); medians reported (default 1)
          --connect-concurrency N   WebSocket handshakes in flight at once (default 50)
          --repo DIR            repository root (default: found upward from the working directory)
          --out DIR             results folder (default: <repo>/bench/results/<UTC timestamp>)
          --server-core N       core for the server under test (default 0)
          --generator-core N    core for this load generator (default 1)
          --no-pin              do not use taskset at all (results are then not comparable)
          --replot DIR          redraw the charts of results folder DIR from its results.json, run nothing
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        bool transportsSet = false, scenariosSet = false, serversSet = false;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--servers":
                    o.Servers = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => s.ToLowerInvariant()).ToArray();
                    serversSet = true;
                    foreach (var s in o.Servers)
                    {
                        if (!ServerKind.Names.Contains(s))
                        {
                            throw new ArgumentException($"unknown server '{s}' (known: {string.Join(", ", ServerKind.Names)})");
                        }
                    }
                    break;
                case "--scenario" or "--scenarios":
                    o.Scenarios = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => s.ToLowerInvariant()).ToArray();
                    scenariosSet = true;
                    foreach (var s in o.Scenarios)
                    {
                        if (!KnownScenarios.Contains(s))
                        {
                            throw new ArgumentException($"unknown scenario '{s}' (known: {string.Join(", ", KnownScenarios)})");
                        }
                    }
                    break;
                case "--subscribers": o.SubscribersSet = PositiveInt(a, Next()); break;
                case "--transports":
                    o.Transports = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => s.ToLowerInvariant()).ToArray();
                    foreach (var t in o.Transports)
                    {
                        if (!ClientTransports.Names.Contains(t))
                        {
                            throw new ArgumentException($"unknown transport '{t}' (known: {string.Join(", ", ClientTransports.Names)})");
                        }
                    }
                    transportsSet = true;
                    break;
                case "--idle-connections": o.IdleConnections = NonNegativeInt(a, Next()); break;
                case "--moderate-rate": o.ModerateRate = PositiveInt(a, Next()); break;
                case "--rates":
                    o.RatesSet = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(r => PositiveInt(a, r)).ToArray();
                    break;
                case "--duration": o.DurationSet = PositiveInt(a, Next()); break;
                case "--channels": o.Channels = PositiveInt(a, Next()); break;
                case "--payload": o.PayloadBytesSet = PositiveInt(a, Next()); break;
                case "--slow-clients": o.SlowClients = PositiveInt(a, Next()); break;
                case "--slow-receive-buffer": o.SlowReceiveBuffer = PositiveInt(a, Next()); break;
                case "--connections": o.Connections = PositiveInt(a, Next()); break;
                case "--workers": o.WorkersSet = PositiveInt(a, Next()); break;
                case "--quiet": o.QuietSeconds = NonNegativeInt(a, Next()); break;
                case "--concurrency": o.Concurrency = PositiveInt(a, Next()); break;
                case "--history": o.HistorySize = NonNegativeInt(a, Next()); break;
                case "--sources": o.Sources = PositiveInt(a, Next()); break;
                case "--worker": o.Worker = Next(); break;
                case "--target": o.Target = Next(); break;
                case "--source": o.Source = Next(); break;
                case "--count": o.Count = PositiveInt(a, Next()); break;
                case "--id-offset": o.IdOffset = NonNegativeInt(a, Next()); break;
                case "--warmup": o.WarmupSeconds = NonNegativeInt(a, Next()); break;
                case "--warmup-rate": o.WarmupRate = PositiveInt(a, Next()); break;
                case "--settle": o.SettleSeconds = NonNegativeInt(a, Next()); break;
                case "--drain": o.DrainSeconds = PositiveInt(a, Next()); break;
                case "--repeat": o.Repeat = PositiveInt(a, Next()); break;
                case "--connect-concurrency": o.ConnectConcurrency = PositiveInt(a, Next()); break;
                case "--repo": o.RepoRoot = Path.GetFullPath(Next()); break;
                case "--out": o.OutputDirectory = Path.GetFullPath(Next()); break;
                case "--server-core": o.ServerCore = NonNegativeInt(a, Next()); break;
                case "--generator-core": o.GeneratorCore = NonNegativeInt(a, Next()); break;
                case "--no-pin": o.NoPin = true; break;
                case "--replot": o.Replot = Path.GetFullPath(Next()); break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{a}'");
            }
        }
        if (transportsSet && !scenariosSet)
        {
            o.Scenarios = ["transports"];
        }
        if (!serversSet && o.Scenarios.Count == 1 && o.Scenarios[0] == "transports")
        {
            o.Servers = ["switchboard"]; // the scenario compares Switchboard's own transports
        }
        if (o.Transports.Count == 0)
        {
            throw new ArgumentException("--transports needs at least one entry");
        }
        if (o.Servers.Count == 0 || o.RatesSet is { Count: 0 } || o.Scenarios.Count == 0)
        {
            throw new ArgumentException("--servers, --scenario and --rates need at least one entry");
        }
        if (o.Sources > 250)
        {
            throw new ArgumentException("--sources: at most 250 (127.0.0.2 … 127.0.0.251)");
        }
        return o;
    }

    public static IReadOnlyList<string> KnownScenarios { get; } = ["broadcast", "many-channels", "slow-clients", "idle", "churn", "transports"];

    /// <summary>Generator processes for the idle scenario.</summary>
    public int IdleWorkers => WorkersSet ?? Math.Max(1, (Connections + 6499) / 6500);

    private static int PositiveInt(string name, string value)
    {
        var n = NonNegativeInt(name, value);
        return n > 0 ? n : throw new ArgumentException($"{name} must be > 0");
    }

    private static int NonNegativeInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new ArgumentException($"{name}: '{value}' is not a non-negative integer");
}
