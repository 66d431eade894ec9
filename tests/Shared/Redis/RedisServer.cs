using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Testing;

/// <summary>How a test Redis server keeps its data.</summary>
public sealed record RedisServerOptions
{
    /// <summary>
    /// Keep an append-only file fsynced on every write (<c>appendfsync always</c>), so a restart,
    /// even after a kill, loses nothing the server acknowledged. Off by default: no persistence at
    /// all (<c>--save "" --appendonly no</c>), so a restart starts empty.
    /// </summary>
    public bool AppendOnly { get; init; }

    /// <summary>Run as a Redis Cluster node (<c>--cluster-enabled yes</c>, its own bus port and nodes file).</summary>
    public bool ClusterEnabled { get; init; }
}

/// <summary>
/// A real <c>redis-server</c> process on a free loopback port, with a temporary directory of its
/// own. <see cref="DisposeAsync"/> stops exactly the process it started and deletes the directory;
/// servers still running when the test process exits are killed then.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<RedisServer, byte> Running = new();

    private readonly RedisServerOptions _options;
    private readonly int _busPort;
    private Process? _process;
    private bool _disposed;

    static RedisServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var server in Running.Keys)
        {
            server.KillProcess();
        }
    };

    private RedisServer(RedisServerOptions options, int port, int busPort, string directory)
    {
        _options = options;
        Port = port;
        _busPort = busPort;
        Directory = directory;
    }

    /// <summary>The port it listens on, on 127.0.0.1; the same after a restart.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, usable as a StackExchange.Redis configuration string.</summary>
    public string Address => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>The server's working directory (data files, <c>redis.log</c>).</summary>
    public string Directory { get; }

    /// <summary>The process id of the running server, or null after <see cref="KillAsync"/>.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Starts a server and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync(RedisServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RedisServerOptions();
        // A free port found by binding to port 0 can be taken by someone else before the server
        // binds it; the server then exits at once and another port is tried.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var busPort = options.ClusterEnabled ? FreePort() : 0;
            var directory = System.IO.Directory.CreateTempSubdirectory("switchboard-redis-").FullName;
            var server = new RedisServer(options, port, busPort, directory);
            try
            {
                await server.StartProcessAsync(cancellationToken);
                return server;
            }
            catch (RedisServerStartException) when (attempt < 5 && server.LogTail().Contains("Address already in use", StringComparison.Ordinal))
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Stops the server abruptly, as a crash would, and starts it again on the same port with the
    /// same persistence: without <see cref="RedisServerOptions.AppendOnly"/> it comes back empty.
    /// Returns once it answers PING.
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await KillAsync();
        await StartProcessAsync(cancellationToken);
    }

    /// <summary>Kills the server process (SIGKILL) and waits for it to exit. The directory stays.</summary>
    public async Task KillAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }
        KillProcess();
        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
        Running.TryRemove(this, out _);
    }

    /// <summary>Sends one command to the server (see <see cref="Resp.CommandAsync"/>).</summary>
    public Task<object?> CommandAsync(params string[] command) => Resp.CommandAsync(Address, CancellationToken.None, command);

    /// <summary>Stops the process this server started and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await KillAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            WorkingDirectory = Directory,
            // Everything goes to redis.log; nothing is written to the test's console.
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in Arguments())
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new RedisServerStartException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Running[this] = 0;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        while (true)
        {
            if (process.HasExited)
            {
                await KillAsync();
                throw new RedisServerStartException($"redis-server on port {Port} exited at start: {LogTail()}");
            }
            if (await Resp.PingAsync(Address, timeout.Token))
            {
                return;
            }
            try
            {
                // Polls a process that has no "ready" event to await; not waiting for a test outcome.
                await Task.Delay(20, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await KillAsync();
                throw new RedisServerStartException($"redis-server on port {Port} did not answer PING within {StartTimeout.TotalSeconds} s: {LogTail()}");
            }
        }
    }

    private List<string> Arguments()
    {
        var args = new List<string>
        {
            "--port", Port.ToString(CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", Directory,
            "--logfile", Path.Combine(Directory, "redis.log"),
            "--daemonize", "no",
            "--save", "",
        };
        if (_options.AppendOnly)
        {
            args.AddRange(["--appendonly", "yes", "--appendfsync", "always"]);
        }
        else
        {
            args.AddRange(["--appendonly", "no"]);
        }
        if (_options.ClusterEnabled)
        {
            args.AddRange(
            [
                "--cluster-enabled", "yes",
                "--cluster-config-file", Path.Combine(Directory, "nodes.conf"),
                "--cluster-port", _busPort.ToString(CultureInfo.InvariantCulture),
                "--cluster-node-timeout", "5000",
            ]);
        }
        return args;
    }

    private void KillProcess()
    {
        try
        {
            // Only this process: redis-server forks nothing that outlives it in these settings.
            _process?.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    private string LogTail()
    {
        try
        {
            var lines = File.ReadAllLines(Path.Combine(Directory, "redis.log"));
            return string.Join('\n', lines.TakeLast(10));
        }
        catch (IOException)
        {
            return "(no redis.log)";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A test Redis server could not be started.</summary>
public sealed class RedisServerStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisServerStartException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public RedisServerStartException()
    {
    }

    /// <summary>Creates the exception wrapping another.</summary>
    public RedisServerStartException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
