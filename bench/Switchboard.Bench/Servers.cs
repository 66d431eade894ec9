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

    public abstract string Name { get; }

    /// <summary>The command (without taskset) and its environment.</summary>
    public abstract ProcessStartInfo StartInfo(string repoRoot, int port);

    /// <summary>A path that answers 200 once the server accepts connections.</summary>
    public abstract string HealthPath { get; }

    /// <summary>The file that must exist before the server can start (a build output).</summary>
    public abstract string RequiredFile(string repoRoot);

    /// <summary>A subscriber that joins <paramref name="room"/> (the server's own channel/group/room name is derived from it).</summary>
    public abstract Subscriber CreateSubscriber(int id, RunState run, string room);

    /// <summary>The HTTP request that publishes the payload to <paramref name="room"/>.</summary>
    public abstract HttpRequestMessage PublishRequest(string room, string payload);

    public static ServerKind Create(string name) => name switch
    {
        "switchboard" => new SwitchboardServer(),
        "signalr" => new SignalRServer(),
        "socketio" => new SocketIoServer(),
        _ => throw new ArgumentException($"unknown server '{name}'"),
    };

    protected static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

internal sealed class SwitchboardServer : ServerKind
{
    private static string Channel(string room) => "bench:" + room;

    public override string Name => "switchboard";

    public override string HealthPath => "/healthz/ready";

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, "src/Switchboard.Server/bin/Release/net10.0/Switchboard.Server.dll");

    public override ProcessStartInfo StartInfo(string repoRoot, int port)
    {
        var dll = RequiredFile(repoRoot);
        var psi = new ProcessStartInfo("dotnet")
        {
            // appsettings.json is read from the content root, the working directory.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
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

internal sealed class SignalRServer : ServerKind
{
    public override string Name => "signalr";

    public override string HealthPath => "/healthz";

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, "bench/peers/signalr/bin/Release/net10.0/Switchboard.Bench.SignalRPeer.dll");

    public override ProcessStartInfo StartInfo(string repoRoot, int port)
    {
        var dll = RequiredFile(repoRoot);
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(dll)! };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return psi;
    }

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new SignalRSubscriber(id, run, room);

    public override HttpRequestMessage PublishRequest(string room, string payload) =>
        new(HttpMethod.Post, "/publish") { Content = Json($"{{\"group\":\"{room}\",\"data\":{payload}}}") };
}

internal sealed class SocketIoServer : ServerKind
{
    public override string Name => "socketio";

    public override string HealthPath => "/healthz";

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, "bench/peers/socketio/node_modules/socket.io/package.json");

    public override ProcessStartInfo StartInfo(string repoRoot, int port)
    {
        var dir = Path.Combine(repoRoot, "bench/peers/socketio");
        var psi = new ProcessStartInfo("node") { WorkingDirectory = dir };
        psi.ArgumentList.Add(Path.Combine(dir, "server.mjs"));
        psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.Environment["NODE_ENV"] = "production";
        return psi;
    }

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new SocketIoSubscriber(id, run, room);

    public override HttpRequestMessage PublishRequest(string room, string payload) =>
        new(HttpMethod.Post, "/publish") { Content = Json($"{{\"room\":\"{room}\",\"data\":{payload}}}") };
}

/// <summary>A server process this run started (pinned with taskset); stopped by its own id only.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();

    private ServerProcess(Process process, StreamWriter log, int port)
    {
        _process = process;
        _log = log;
        Port = port;
    }

    public int Pid => _process.Id;

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    /// <summary>
    /// CPU seconds (utime + stime) of every process that makes up this server under test
    /// (today the one process; servers with workers or sidecars sum them all here).
    /// </summary>
    public double CpuSeconds() => ProcStats.CpuSeconds(Pid);

    /// <summary>Peak resident memory (VmHWM) of every process of this server, summed, in MiB.</summary>
    public double PeakRssMiB() => ProcStats.PeakRssMiB(Pid);

    /// <summary>Current resident memory (VmRSS) of every process of this server, summed, in MiB.</summary>
    public double RssMiB() => ProcStats.RssMiB(Pid);

    public Uri WebSocketBaseUri => new($"ws://127.0.0.1:{Port}");

    public static ServerProcess Start(ServerKind kind, string repoRoot, int? core, string logPath)
    {
        var port = FreePort();
        var inner = kind.StartInfo(repoRoot, port);
        ProcessStartInfo psi;
        if (core is { } c)
        {
            // taskset execs the server: the pid we get is the server's own.
            psi = new ProcessStartInfo("taskset") { WorkingDirectory = inner.WorkingDirectory };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(c.ToString(System.Globalization.CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(inner.FileName);
            foreach (var a in inner.ArgumentList)
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var (k, v) in inner.Environment)
            {
                psi.Environment[k] = v;
            }
        }
        else
        {
            psi = inner;
        }
        psi = WithOpenFilesLimit(psi);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        log.WriteLine($"# {kind.Name}: {psi.FileName} {string.Join(' ', psi.ArgumentList)}");
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {kind.Name}");
        var server = new ServerProcess(process, log, port);
        process.OutputDataReceived += (_, e) => server.WriteLog(e.Data);
        process.ErrorDataReceived += (_, e) => server.WriteLog(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
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
                if (response.StatusCode == HttpStatusCode.OK)
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

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            ProcStats.Signal(_process.Id, 15); // SIGTERM to this process only
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: false);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        else
        {
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        lock (_logLock)
        {
            _log.WriteLine($"# exited with code {_process.ExitCode}");
            _log.Dispose();
        }
        _process.Dispose();
    }

    private void WriteLog(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_logLock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
