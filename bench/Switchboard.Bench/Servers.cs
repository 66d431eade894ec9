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
        ["switchboard", "signalr", "socketio", "nchan", "signalr-redis", "socketio-redis", "nchan-redis"];

    public abstract string Name { get; }

    /// <summary>Whether this server needs a Redis sidecar (its URL is then in <see cref="ServerLaunch.RedisUrl"/>).</summary>
    public virtual bool UsesRedis => false;

    /// <summary>The command (without taskset) and its environment; may write files into the run directory.</summary>
    public abstract ProcessStartInfo StartInfo(ServerLaunch launch);

    /// <summary>A path that answers 200 once the server accepts connections.</summary>
    public abstract string HealthPath { get; }

    /// <summary>
    /// A request that must also succeed (2xx) before the server counts as ready, for servers whose
    /// health path answers before they can publish (Nchan before its Redis link is up); null: none.
    /// </summary>
    public virtual HttpRequestMessage? ReadinessProbe() => null;

    /// <summary>The file that must exist before the server can start (a build output).</summary>
    public abstract string RequiredFile(string repoRoot);

    /// <summary>A subscriber that joins <paramref name="room"/> (the server's own channel/group/room name is derived from it).</summary>
    public abstract Subscriber CreateSubscriber(int id, RunState run, string room);

    /// <summary>The HTTP request that publishes the payload to <paramref name="room"/>.</summary>
    public abstract HttpRequestMessage PublishRequest(string room, string payload);

    public static ServerKind Create(string name) => name switch
    {
        "switchboard" => new SwitchboardServer(),
        "signalr" => new SignalRServer(redis: false),
        "socketio" => new SocketIoServer(redis: false),
        "nchan" => new NchanServer(redis: false),
        "signalr-redis" => new SignalRServer(redis: true),
        "socketio-redis" => new SocketIoServer(redis: true),
        "nchan-redis" => new NchanServer(redis: true),
        _ => throw new ArgumentException($"unknown server '{name}'"),
    };

    protected static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

/// <summary>
/// What one server run starts with: the repository, the server's port, a private temporary
/// directory (deleted after the run) and, for the "-redis" kinds, the Redis sidecar's URL.
/// </summary>
internal sealed record ServerLaunch(string RepoRoot, int Port, string RunDirectory, string? RedisUrl);

internal sealed class SwitchboardServer : ServerKind
{
    private static string Channel(string room) => "bench:" + room;

    public override string Name => "switchboard";

    public override string HealthPath => "/healthz/ready";

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
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
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
/// A server under test this run started (pinned with taskset), with everything that belongs to it:
/// its child processes (nginx's workers), a Redis sidecar for the "-redis" kinds, and a private
/// temporary directory. Stopped by its own process ids only.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ServerKind _kind;
    private readonly StreamWriter _log;
    private readonly Lock _logLock;
    private readonly RedisSidecar? _redis;
    private readonly string _runDirectory;

    private ServerProcess(Process process, ServerKind kind, StreamWriter log, Lock logLock, int port, RedisSidecar? redis, string runDirectory)
    {
        _process = process;
        _kind = kind;
        _log = log;
        _logLock = logLock;
        Port = port;
        _redis = redis;
        _runDirectory = runDirectory;
    }

    /// <summary>The server's own process (nginx: the master).</summary>
    public int Pid => _process.Id;

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    public Uri WebSocketBaseUri => new($"ws://127.0.0.1:{Port}");

    /// <summary>
    /// Every live process of the server side: the server, its descendants (nginx's workers) and the
    /// Redis sidecar when there is one.
    /// </summary>
    public IReadOnlyList<int> Pids()
    {
        var pids = ProcessTree.Of(_process.Id);
        if (_redis is not null)
        {
            pids.AddRange(ProcessTree.Of(_redis.Pid));
        }
        return pids;
    }

    /// <summary>
    /// CPU seconds (utime + stime) of every process that makes up this server under test, summed:
    /// the server, its child processes (also those that have exited, through cutime + cstime) and
    /// the Redis sidecar. NaN when the server is gone.
    /// </summary>
    public double CpuSeconds() => _process.HasExited ? double.NaN : ProcessTree.CpuSeconds(Pids());

    /// <summary>
    /// Peak resident memory (VmHWM) of every process of this server, summed, in MiB (each process's
    /// own peak, so an upper bound of the peak of the sum; shared memory counts once per process
    /// that touched it).
    /// </summary>
    public double PeakRssMiB() => _process.HasExited ? double.NaN : ProcessTree.Sum(Pids(), ProcStats.PeakRssMiB);

    /// <summary>Current resident memory (VmRSS) of every process of this server, summed, in MiB.</summary>
    public double RssMiB() => _process.HasExited ? double.NaN : ProcessTree.Sum(Pids(), ProcStats.RssMiB);

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

        RedisSidecar? redis = null;
        try
        {
            if (kind.UsesRedis)
            {
                redis = RedisSidecar.Start(core, runDirectory, Log, TimeSpan.FromSeconds(15));
            }
            var port = FreePort();
            var inner = kind.StartInfo(new ServerLaunch(repoRoot, port, runDirectory, redis?.Url));
            // The generator's own runtime tuning is not the server's.
            inner.Environment.Remove(GeneratorTuning.InlineSocketCompletions);
            var psi = Pinned(inner, core);
            psi = WithOpenFilesLimit(psi);
            psi.UseShellExecute = false;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            psi.RedirectStandardInput = true;
            Log($"# {kind.Name}: {psi.FileName} {string.Join(' ', psi.ArgumentList)}");
            var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {kind.Name}");
            var server = new ServerProcess(process, kind, log, logLock, port, redis, runDirectory);
            process.OutputDataReceived += (_, e) => Log(e.Data);
            process.ErrorDataReceived += (_, e) => Log(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return server;
        }
        catch
        {
            if (redis is not null)
            {
                redis.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            log.Dispose();
            DeleteRunDirectory(runDirectory);
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

    public async Task WaitHealthyAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"server exited with code {_process.ExitCode} (see the server log)");
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
        throw new TimeoutException($"server not healthy at {path} after {timeout.TotalSeconds} s");
    }

    private async Task<bool> ProbeAsync(HttpClient http, CancellationToken ct)
    {
        using var probe = _kind.ReadinessProbe();
        if (probe is null)
        {
            return true;
        }
        using var response = await http.SendAsync(probe, ct);
        return response.IsSuccessStatusCode;
    }

    public async ValueTask DisposeAsync()
    {
        // The server's descendants (nginx's workers), named by pid and start time, so that one that
        // outlives its parent is stopped too, and only if it is still that same process.
        var descendants = ProcessTree.Of(_process.Id).Skip(1).Select(p => (Pid: p, Start: ProcessTree.StartTime(p))).ToList();
        // SIGTERM to this process only (nginx: it stops its workers).
        await ProcStats.StopAsync(_process, TimeSpan.FromSeconds(20));
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
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        lock (_logLock)
        {
            _log.WriteLine($"# exited with code {_process.ExitCode}");
            _log.Dispose();
        }
        _process.Dispose();
        DeleteRunDirectory(_runDirectory);
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

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
