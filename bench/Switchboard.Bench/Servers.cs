using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>A server under test: how to start it, subscribe to it and publish to it.</summary>
internal abstract class ServerKind
{
    public const string ApiKey = "bench-api-key-0123456789";
    public const string Room = "room";

    /// <summary>Every server kind, in the order the usage text lists them.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "switchboard", "signalr", "socketio", "nchan", "signalr-redis", "socketio-redis", "nchan-redis",
        "switchboard-redis", "switchboard-cluster",
    ];

    public abstract string Name { get; }

    /// <summary>Whether this server needs a Redis sidecar (its URL is then in <see cref="ServerLaunch.RedisUrl"/>).</summary>
    public virtual bool UsesRedis => false;

    /// <summary>
    /// Server processes (nodes) of one run, all on the server core: 1, or 2 for a cluster, where
    /// publish requests go to the first node (A) and subscribers connect to the last (B).
    /// </summary>
    public virtual int NodeCount => 1;

    /// <summary>The command (without taskset) and its environment; may write files into the run directory.</summary>
    public abstract ProcessStartInfo StartInfo(ServerLaunch launch);

    /// <summary>A path that answers 200 once the server accepts connections.</summary>
    public abstract string HealthPath { get; }

    /// <summary>
    /// A request that must also succeed (2xx, and no <c>"error"</c> in the body) before the server
    /// counts as ready, for servers whose health path answers before they can publish (Nchan or
    /// Switchboard before their Redis link is up); null: none.
    /// </summary>
    public virtual HttpRequestMessage? ReadinessProbe() => null;

    /// <summary>The file that must exist before the server can start (a build output).</summary>
    public abstract string RequiredFile(string repoRoot);

    /// <summary>A subscriber that joins <paramref name="room"/> (the server's own channel/group/room name is derived from it).</summary>
    public abstract Subscriber CreateSubscriber(int id, RunState run, string room);

    /// <summary>The HTTP request that publishes the payload to <paramref name="room"/>.</summary>
    public abstract HttpRequestMessage PublishRequest(string room, string payload);

    /// <summary>The server kind by name; <paramref name="historySize"/>: Switchboard's bench channels keep that much history (0: none).</summary>
    public static ServerKind Create(string name, int historySize = 0) => name switch
    {
        "switchboard" => new SwitchboardServer(SwitchboardServer.Mode.Memory, historySize),
        "signalr" => new SignalRServer(redis: false),
        "socketio" => new SocketIoServer(redis: false),
        "nchan" => new NchanServer(redis: false),
        "signalr-redis" => new SignalRServer(redis: true),
        "socketio-redis" => new SocketIoServer(redis: true),
        "nchan-redis" => new NchanServer(redis: true),
        "switchboard-redis" => new SwitchboardServer(SwitchboardServer.Mode.RedisNode, historySize),
        "switchboard-cluster" => new SwitchboardServer(SwitchboardServer.Mode.RedisCluster, historySize),
        _ => throw new ArgumentException($"unknown server '{name}'"),
    };

    protected static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

/// <summary>
/// What one server process (node) of a run starts with: the repository, its port, the run's
/// private temporary directory (deleted after the run), for the kinds with Redis the sidecar's
/// URL (<c>redis://127.0.0.1:PORT</c>) and address (<c>127.0.0.1:PORT</c>), and which node it is
/// (0 = A; <paramref name="NodeLabel"/> "A", "B", or empty when the kind has one node).
/// </summary>
internal sealed record ServerLaunch(
    string RepoRoot, int Port, string RunDirectory, string? RedisUrl, string? RedisAddress, int Node, string NodeLabel);

/// <summary>
/// Switchboard: the memory engine (<c>switchboard</c>, one node), the Redis engine with one node
/// (<c>switchboard-redis</c>: every publication makes the round trip through the run's Redis
/// sidecar and comes back over pub/sub), or two nodes on one Redis (<c>switchboard-cluster</c>:
/// publish requests go to node A, the subscribers are on node B, so every publication crosses
/// nodes through Redis). With <paramref name="historySize"/> &gt; 0 the bench namespace keeps that
/// many publications of history (5 min TTL): every publication is also appended to the channel's
/// stream (on Redis: the XADD in the publish script); 0 (the default, as in the comparison runs):
/// no history, so on Redis the publish script only PUBLISHes.
/// </summary>
internal sealed class SwitchboardServer(SwitchboardServer.Mode mode, int historySize = 0) : ServerKind
{
    internal enum Mode
    {
        Memory,
        RedisNode,
        RedisCluster,
    }

    /// <summary>The Switchboard channel of a bench room (namespace <c>bench</c>).</summary>
    internal static string Channel(string room) => "bench:" + room;

    public override string Name => mode switch
    {
        Mode.RedisNode => "switchboard-redis",
        Mode.RedisCluster => "switchboard-cluster",
        _ => "switchboard",
    };

    public override bool UsesRedis => mode != Mode.Memory;

    /// <summary>More configuration for the server (the server refuses keys it does not know, so only what a run needs).</summary>
    public Dictionary<string, string> ExtraEnvironment { get; } = [];

    public override int NodeCount => mode == Mode.RedisCluster ? 2 : 1;

    public override string HealthPath => "/healthz/ready";

    /// <summary>
    /// On Redis, readiness answers 200 ("degraded") while the node cannot reach Redis yet: a
    /// publication to a channel nobody subscribes to must succeed first (error 100 until then).
    /// </summary>
    public override HttpRequestMessage? ReadinessProbe() =>
        mode == Mode.Memory ? null : PublishRequest("probe", "{}");

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, "src/Switchboard.Server/bin/Release/net10.0/Switchboard.Server.dll");

    public override ProcessStartInfo StartInfo(ServerLaunch launch)
    {
        var dll = RequiredFile(launch.RepoRoot);
        var psi = new ProcessStartInfo("dotnet")
        {
            // appsettings.json is read from the content root, the working directory.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{launch.Port}");
        psi.Environment["Switchboard__Api__Key"] = ApiKey;
        psi.Environment["Switchboard__Client__AllowAnonymousConnectWithoutToken"] = "true";
        psi.Environment["Switchboard__Client__UserConnectionLimit"] = "0";
        // The idle scenario holds ~20,000 connections: above the node's default cap would answer 503.
        psi.Environment["Switchboard__Client__MaxConnections"] = "1000000";
        psi.Environment["Switchboard__Namespaces__bench__AllowSubscribeForClient"] = "true";
        psi.Environment["Switchboard__Namespaces__bench__AllowSubscribeForAnonymous"] = "true";
        foreach (var (key, value) in ExtraEnvironment)
        {
            psi.Environment[key] = value;
        }
        if (historySize > 0)
        {
            psi.Environment["Switchboard__Namespaces__bench__HistorySize"] = historySize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            psi.Environment["Switchboard__Namespaces__bench__HistoryTtl"] = "00:05:00";
        }
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        // Exactly this kind's engine, whatever the generator's own environment says.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Switchboard__Redis__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        if (mode == Mode.Memory)
        {
            psi.Environment["Switchboard__Engine"] = "memory";
            psi.Environment.Remove("Switchboard__NodeName");
        }
        else
        {
            psi.Environment["Switchboard__Engine"] = "redis";
            psi.Environment["Switchboard__Redis__Addresses__0"] =
                launch.RedisAddress ?? throw new InvalidOperationException($"{Name} needs the Redis sidecar");
            psi.Environment["Switchboard__NodeName"] = "bench-" + (launch.NodeLabel.Length > 0 ? launch.NodeLabel.ToLowerInvariant() : "a");
        }
        return psi;
    }

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new SwitchboardSubscriber(id, run, Channel(room));

    public override HttpRequestMessage PublishRequest(string room, string payload)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/publish")
        {
            Content = Json($"{{\"channel\":\"{Channel(room)}\",\"data\":{payload}}}"),
        };
        request.Headers.Add("X-API-Key", ApiKey);
        return request;
    }
}

/// <summary>
/// A server under test this run started (every process pinned with taskset to the server core),
/// with everything that belongs to it: its nodes (one server process, or two for a cluster kind),
/// their child processes (nginx's workers), a Redis sidecar for the kinds with Redis, and a private
/// temporary directory. Stopped by its own process ids only.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly ServerKind _kind;
    private readonly StreamWriter _log;
    private readonly Lock _logLock;
    private readonly List<Node> _nodes = [];
    private readonly string _runDirectory;
    private RedisSidecar? _redis;

    /// <summary>One server process of the run: "A", "B", or "" when the kind has one.</summary>
    private sealed record Node(string Label, Process Process, int Port)
    {
        public Uri BaseUri => new($"http://127.0.0.1:{Port}");
    }

    /// <summary>CPU seconds so far of the server side: in total, per node, and of the Redis sidecar (NaN without one).</summary>
    internal sealed record CpuSample(double Total, double[] Nodes, double Redis)
    {
        public CpuSample Minus(CpuSample start) => new(
            Total - start.Total,
            Nodes.Zip(start.Nodes, (a, b) => a - b).ToArray(),
            Redis - start.Redis);
    }

    private ServerProcess(ServerKind kind, StreamWriter log, Lock logLock, string runDirectory)
    {
        _kind = kind;
        _log = log;
        _logLock = logLock;
        _runDirectory = runDirectory;
    }

    /// <summary>The first node's own process (nginx: the master).</summary>
    public int Pid => _nodes[0].Process.Id;

    /// <summary>The first node's port.</summary>
    public int Port => _nodes[0].Port;

    public int NodeCount => _nodes.Count;

    /// <summary>Whether a Redis sidecar belongs to this server.</summary>
    public bool HasRedis => _redis is not null;

    public bool HasExited => _nodes.Any(n => n.Process.HasExited);

    /// <summary>Where publish requests go: the first node (A).</summary>
    public Uri BaseUri => _nodes[0].BaseUri;

    /// <summary>Where subscribers connect: the last node (B in a cluster; the only one otherwise).</summary>
    public Uri WebSocketBaseUri => new($"ws://127.0.0.1:{_nodes[^1].Port}");

    /// <summary>One line naming every process of the server side, its port and the CPUs it may run on.</summary>
    public string Describe()
    {
        var parts = _nodes.Select(n =>
            $"{(n.Label.Length > 0 ? "node " + n.Label + " " : "")}pid {n.Process.Id} on port {n.Port}, allowed CPUs {ProcStats.AllowedCpus(n.Process.Id)}").ToList();
        if (_redis is not null)
        {
            parts.Add($"redis-server pid {_redis.Pid} on port {_redis.Port}, allowed CPUs {ProcStats.AllowedCpus(_redis.Pid)}");
        }
        if (_nodes.Count > 1)
        {
            parts.Add($"publishing through node {_nodes[0].Label}, subscribers on node {_nodes[^1].Label}");
        }
        return string.Join("; ", parts);
    }

    /// <summary>
    /// Every live process of the server side: each node, its descendants (nginx's workers) and the
    /// Redis sidecar when there is one.
    /// </summary>
    public IReadOnlyList<int> Pids()
    {
        var pids = new List<int>();
        foreach (var n in _nodes)
        {
            pids.AddRange(ProcessTree.Of(n.Process.Id));
        }
        if (_redis is not null)
        {
            pids.AddRange(ProcessTree.Of(_redis.Pid));
        }
        return pids;
    }

    /// <summary>
    /// CPU seconds (utime + stime) of every process that makes up this server under test, summed:
    /// the nodes, their child processes (also those that have exited, through cutime + cstime) and
    /// the Redis sidecar. NaN when a node is gone.
    /// </summary>
    public double CpuSeconds() => HasExited ? double.NaN : ProcessTree.CpuSeconds(Pids());

    /// <summary>
    /// <see cref="CpuSeconds"/> with its parts: each node (with its descendants; utime + stime) and
    /// the Redis sidecar (NaN when there is none). Redis is read from its threads' schedstat run
    /// time (ns) where the kernel has it, since it uses only tens of milliseconds per step, below
    /// what 10 ms ticks can tell apart. The total is the sum of the parts; NaN when a node is gone.
    /// </summary>
    public CpuSample SampleCpu()
    {
        var nodes = _nodes.Select(n => n.Process.HasExited ? double.NaN : ProcessTree.CpuSeconds(ProcessTree.Of(n.Process.Id))).ToArray();
        var redis = _redis is null ? double.NaN : RedisCpuSeconds(_redis.Pid);
        var total = nodes.Sum() + (_redis is null ? 0 : redis);
        return new CpuSample(total, nodes, redis);
    }

    private static double RedisCpuSeconds(int pid)
    {
        var precise = ProcStats.RunTimeSeconds(pid);
        return double.IsNaN(precise) ? ProcessTree.CpuSeconds(ProcessTree.Of(pid)) : precise;
    }

    /// <summary>
    /// Peak resident memory (VmHWM) of every process of this server, summed, in MiB (each process's
    /// own peak, so an upper bound of the peak of the sum; shared memory counts once per process
    /// that touched it).
    /// </summary>
    public double PeakRssMiB() => HasExited ? double.NaN : ProcessTree.Sum(Pids(), ProcStats.PeakRssMiB);

    /// <summary>Peak resident memory (VmHWM) of the Redis sidecar in MiB; NaN when there is none.</summary>
    public double RedisPeakRssMiB() => _redis is null ? double.NaN : ProcStats.PeakRssMiB(_redis.Pid);

    /// <summary>Current resident memory (VmRSS) of every process of this server, summed, in MiB.</summary>
    public double RssMiB() => HasExited ? double.NaN : ProcessTree.Sum(Pids(), ProcStats.RssMiB);

    public static ServerProcess Start(ServerKind kind, string repoRoot, int? core, string logPath)
    {
        var runDirectory = Directory.CreateTempSubdirectory("switchboard-bench-").FullName;
        if (!OperatingSystem.IsWindows())
        {
            // Readable by nginx's workers, which drop root for nobody.
            File.SetUnixFileMode(
                runDirectory,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var logLock = new Lock();
        void Log(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (logLock)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        var server = new ServerProcess(kind, log, logLock, runDirectory);
        try
        {
            if (kind.UsesRedis)
            {
                server._redis = RedisSidecar.Start(core, runDirectory, Log, TimeSpan.FromSeconds(15));
            }
            var ports = FreePorts(kind.NodeCount);
            for (var n = 0; n < kind.NodeCount; n++)
            {
                var label = kind.NodeCount > 1 ? ((char)('A' + n)).ToString() : "";
                var inner = kind.StartInfo(new ServerLaunch(repoRoot, ports[n], runDirectory, server._redis?.Url, server._redis?.Address, n, label));
                // The generator's own runtime tuning is not the server's.
                inner.Environment.Remove(GeneratorTuning.InlineSocketCompletions);
                var psi = Pinned(inner, core);
                psi = WithOpenFilesLimit(psi);
                psi.UseShellExecute = false;
                psi.RedirectStandardOutput = true;
                psi.RedirectStandardError = true;
                psi.RedirectStandardInput = true;
                // A cluster's nodes share the log: each line says which node wrote it.
                var prefix = label.Length > 0 ? label + ": " : "";
                Log($"# {kind.Name}{(label.Length > 0 ? " node " + label : "")}: {psi.FileName} {string.Join(' ', psi.ArgumentList)}");
                var engine = psi.Environment
                    .Where(e => e.Key.StartsWith("Switchboard__Engine", StringComparison.Ordinal) ||
                                e.Key.StartsWith("Switchboard__Namespaces__bench__History", StringComparison.Ordinal) ||
                                e.Key.StartsWith("Switchboard__Redis__", StringComparison.Ordinal) ||
                                e.Key.StartsWith("Switchboard__NodeName", StringComparison.Ordinal))
                    .OrderBy(e => e.Key, StringComparer.Ordinal)
                    .Select(e => $"{e.Key}={e.Value}")
                    .ToList();
                if (engine.Count > 0)
                {
                    Log($"#   {string.Join(' ', engine)}");
                }
                var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {kind.Name}");
                server._nodes.Add(new Node(label, process, ports[n]));
                process.OutputDataReceived += (_, e) => Log(e.Data is null ? null : prefix + e.Data);
                process.ErrorDataReceived += (_, e) => Log(e.Data is null ? null : prefix + e.Data);
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
            }
            return server;
        }
        catch
        {
            // Stops exactly what was started so far.
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>The command under <c>taskset -c CORE</c> (taskset execs it: the pid is the command's own).</summary>
    public static ProcessStartInfo Pinned(ProcessStartInfo inner, int? core)
    {
        if (core is not { } c)
        {
            return inner;
        }
        var psi = new ProcessStartInfo("taskset") { WorkingDirectory = inner.WorkingDirectory };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(c.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(inner.FileName);
        foreach (var a in inner.ArgumentList)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Clear(); // exactly the command's environment (variables it removed stay removed)
        foreach (var (k, v) in inner.Environment)
        {
            psi.Environment[k] = v;
        }
        return psi;
    }

    /// <summary>
    /// Runs the server through <c>prlimit</c> with its soft open-files limit raised to the hard limit
    /// (the idle scenario holds ~20,000 connections); prlimit execs the command, so the pid stays the server's.
    /// </summary>
    private static ProcessStartInfo WithOpenFilesLimit(ProcessStartInfo inner)
    {
        var hard = HardOpenFilesLimit();
        var prlimit = new[] { "/usr/bin/prlimit", "/bin/prlimit" }.FirstOrDefault(File.Exists);
        if (hard is null || prlimit is null)
        {
            return inner;
        }
        var psi = new ProcessStartInfo(prlimit) { WorkingDirectory = inner.WorkingDirectory };
        psi.ArgumentList.Add($"--nofile={hard}:{hard}");
        psi.ArgumentList.Add(inner.FileName);
        foreach (var a in inner.ArgumentList)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Clear(); // exactly the command's environment (REDIS_URL removed stays removed)
        foreach (var (k, v) in inner.Environment)
        {
            psi.Environment[k] = v;
        }
        return psi;
    }

    /// <summary>The hard RLIMIT_NOFILE of this process ("unlimited" or unreadable: null).</summary>
    private static string? HardOpenFilesLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 2 } && long.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) ? fields[1] : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits until every node answers 200 on <paramref name="path"/> and its kind's readiness probe succeeds.</summary>
    public async Task WaitHealthyAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        foreach (var node in _nodes)
        {
            await WaitHealthyAsync(node, path, deadline, timeout, ct);
        }
    }

    private async Task WaitHealthyAsync(Node node, string path, long deadline, TimeSpan timeout, CancellationToken ct)
    {
        var name = node.Label.Length > 0 ? $"node {node.Label}" : "server";
        using var http = new HttpClient { BaseAddress = node.BaseUri, Timeout = TimeSpan.FromSeconds(2) };
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (node.Process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with code {node.Process.ExitCode} (see the server log)");
            }
            try
            {
                using var response = await http.GetAsync(path, ct);
                if (response.StatusCode == HttpStatusCode.OK && await ProbeAsync(http, ct))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"{name} not healthy at {path} after {timeout.TotalSeconds} s");
    }

    private async Task<bool> ProbeAsync(HttpClient http, CancellationToken ct)
    {
        using var probe = _kind.ReadinessProbe();
        if (probe is null)
        {
            return true;
        }
        using var response = await http.SendAsync(probe, ct);
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }
        // Switchboard answers API errors (such as 100 while Redis is not reachable) with 200 and an error body.
        var body = await response.Content.ReadAsStringAsync(ct);
        return !body.Contains("\"error\"", StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        // The subscribers' node first, the node taking publish requests next, Redis last, so that
        // no node spends its shutdown reconnecting to a Redis that is already gone.
        for (var i = _nodes.Count - 1; i >= 0; i--)
        {
            await StopNodeAsync(_nodes[i]);
        }
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        lock (_logLock)
        {
            _log.Dispose();
        }
        foreach (var n in _nodes)
        {
            n.Process.Dispose();
        }
        DeleteRunDirectory(_runDirectory);
    }

    private async Task StopNodeAsync(Node node)
    {
        var process = node.Process;
        // The node's descendants (nginx's workers), named by pid and start time, so that one that
        // outlives its parent is stopped too, and only if it is still that same process.
        var descendants = ProcessTree.Of(process.Id).Skip(1).Select(p => (Pid: p, Start: ProcessTree.StartTime(p))).ToList();
        // SIGTERM to this process only (nginx: it stops its workers).
        await ProcStats.StopAsync(process, TimeSpan.FromSeconds(20));
        foreach (var (pid, start) in descendants)
        {
            for (var i = 0; i < 50 && start >= 0 && ProcessTree.StartTime(pid) == start; i++)
            {
                if (i == 30)
                {
                    ProcStats.Signal(pid, 9);
                }
                await Task.Delay(100, CancellationToken.None);
            }
        }
        lock (_logLock)
        {
            try
            {
                _log.WriteLine($"# {(node.Label.Length > 0 ? "node " + node.Label + " " : "")}exited with code {process.ExitCode}");
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static void DeleteRunDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    internal static int FreePort() => FreePorts(1)[0];

    /// <summary>Distinct free loopback ports (all listeners are open at once, so no port is handed out twice).</summary>
    internal static int[] FreePorts(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listeners.Add(listener);
                listener.Start();
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners)
            {
                l.Stop();
            }
        }
    }
}
