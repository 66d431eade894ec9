using System.Globalization;

namespace Switchboard.Bench;

/// <summary>Command-line options of the load generator.</summary>
internal sealed class Options
{
    public IReadOnlyList<string> Servers { get; private set; } = ["switchboard", "signalr", "socketio"];
    public int Subscribers { get; private set; } = 1000;
    public IReadOnlyList<int> Rates { get; private set; } = [100, 500, 1000, 2000];
    public int DurationSeconds { get; private set; } = 10;
    public int WarmupSeconds { get; private set; } = 5;
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

    public static string Usage => """
        Switchboard.Bench — broadcast fan-out: Switchboard vs ASP.NET Core SignalR vs Socket.IO 4.

        usage: dotnet bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll [options]

          --servers LIST        switchboard,signalr,socketio (default: all three, in that order)
          --subscribers N       WebSocket subscribers on the one channel (default 1000)
          --rates LIST          publications per second, one step each (default 100,500,1000,2000)
          --duration S          seconds of publishing per step (default 10)
          --warmup S            seconds of unmeasured publishing before the first step (default 5)
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
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--servers":
                    o.Servers = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => s.ToLowerInvariant()).ToArray();
                    foreach (var s in o.Servers)
                    {
                        if (s is not ("switchboard" or "signalr" or "socketio"))
                        {
                            throw new ArgumentException($"unknown server '{s}' (known: switchboard, signalr, socketio)");
                        }
                    }
                    break;
                case "--subscribers": o.Subscribers = PositiveInt(a, Next()); break;
                case "--rates":
                    o.Rates = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(r => PositiveInt(a, r)).ToArray();
                    break;
                case "--duration": o.DurationSeconds = PositiveInt(a, Next()); break;
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
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{a}'");
            }
        }
        if (o.Servers.Count == 0 || o.Rates.Count == 0)
        {
            throw new ArgumentException("--servers and --rates need at least one entry");
        }
        return o;
    }

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
